#pragma once
// The initial x86 CPU state for entering a Linux kernel directly (boot
// protocol 64-bit or 32-bit entry): identity page tables and a GDT in guest
// memory, and the register values for the boot vCPU. Pure functions of their
// inputs, so they are testable without KVM.
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/result.h"

namespace wren {

// Selectors the boot protocol requires (__BOOT_CS, __BOOT_DS).
inline constexpr uint16_t kBootCodeSelector = 0x10;
inline constexpr uint16_t kBootDataSelector = 0x18;

// The boot GDT (null, null, code, data) for `mode`: 32 bytes, which is all
// the room there is between layout::kGdtAddr and layout::kIdtAddr.
std::vector<uint64_t> boot_gdt(EntryMode mode);

// Writes the boot GDT at layout::kGdtAddr, an empty IDT at layout::kIdtAddr
// and, for 64-bit entry, page tables at layout::kPml4Addr.. identity-mapping
// the first 4 GiB with 2 MiB pages.
[[nodiscard]] Status write_boot_structures(GuestMemory& mem, EntryMode mode);

// `current` (as read from KVM) changed to flat protected mode, or long mode
// with paging on the tables written above.
kvm_sregs boot_sregs(const kvm_sregs& current, EntryMode mode);

// rip = entry, rsi = zero page, rax/rbx as the image asks (multiboot),
// rflags = 2 (interrupts off), a small stack.
kvm_regs boot_regs(const BootImage& image);

// x87 control word 0x37f and MXCSR 0x1f80, their power-on values.
kvm_fpu boot_fpu();

// MSR values every vCPU starts with: SYSENTER/SYSCALL MSRs cleared, TSC 0,
// fast strings enabled, MTRRs on with write-back as the default type.
std::vector<kvm_msr_entry> boot_msrs();

}  // namespace wren
