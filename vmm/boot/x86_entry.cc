#include "vmm/boot/x86_entry.h"

#include <array>
#include <cstring>

#include "hypervisor/layout.h"
#include "vmm/cpu/segment_descriptor.h"

namespace wren {

namespace {

// Control and feature bits.
constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

// Page table entry bits.
constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPteLargePage = 1ull << 7;
constexpr uint64_t kLargePageSize = 2 * layout::kMiB;
constexpr size_t kEntriesPerTable = 512;
constexpr size_t kPageDirectories = 4;  // 4 x 1 GiB

// MSR indices.
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrSysenterCs = 0x174;
constexpr uint32_t kMsrSysenterEsp = 0x175;
constexpr uint32_t kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrMiscEnable = 0x1a0;
constexpr uint32_t kMsrMtrrDefType = 0x2ff;
constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrCstar = 0xc0000083;
constexpr uint32_t kMsrSyscallMask = 0xc0000084;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
constexpr uint64_t kMiscEnableFastString = 1ull << 0;
constexpr uint64_t kMtrrEnable = 1ull << 11;
constexpr uint64_t kMtrrTypeWriteBack = 6;

// Descriptor access bytes (P, DPL 0, S, type) and flag nibbles (G, D/B, L).
constexpr uint8_t kAccessCode = 0x9b;  // present, code, execute/read, accessed
constexpr uint8_t kAccessData = 0x93;  // present, data, read/write, accessed
constexpr uint8_t kTssTypeBusy = 0xb;
constexpr uint8_t kFlagsCode64 = 0xa;  // G, L
constexpr uint8_t kFlagsFlat32 = 0xc;  // G, D/B
constexpr uint32_t kTssLimit = 0xffff;

uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
  return (uint64_t{base & 0xff000000u} << 32) | (uint64_t{flags & 0xfu} << 52) | (uint64_t{limit & 0xf0000u} << 32) |
         (uint64_t{access} << 40) | (uint64_t{base & 0x00ffffffu} << 16) | uint64_t{limit & 0xffffu};
}

}  // namespace

std::vector<uint64_t> boot_gdt(EntryMode mode) {
  const uint8_t code_flags = mode == EntryMode::k64Bit ? kFlagsCode64 : kFlagsFlat32;
  return {
      0,
      0,
      descriptor(0, 0xfffff, kAccessCode, code_flags),
      descriptor(0, 0xfffff, kAccessData, kFlagsFlat32),
  };
}

Status write_boot_structures(GuestMemory& mem, EntryMode mode) {
  const auto gdt = boot_gdt(mode);
  static_assert(layout::kGdtAddr + 4 * 8 <= layout::kIdtAddr);
  if (!mem.write(layout::kGdtAddr, std::span(reinterpret_cast<const uint8_t*>(gdt.data()), gdt.size() * 8)))
    return Error{"guest RAM does not cover the boot GDT"};
  if (!mem.write_obj<uint64_t>(layout::kIdtAddr, 0)) return Error{"guest RAM does not cover the boot IDT"};
  if (mode != EntryMode::k64Bit) return Ok{};

  std::array<uint64_t, kEntriesPerTable> table{};
  table[0] = layout::kPdptAddr | kPtePresent | kPteWritable;
  if (!mem.write_obj(layout::kPml4Addr, table)) return Error{"guest RAM does not cover the boot page tables"};
  table.fill(0);
  for (size_t i = 0; i < kPageDirectories; ++i)
    table[i] = (layout::kPdAddr + i * layout::kPageSize) | kPtePresent | kPteWritable;
  if (!mem.write_obj(layout::kPdptAddr, table)) return Error{"guest RAM does not cover the boot page tables"};
  for (size_t d = 0; d < kPageDirectories; ++d) {
    for (size_t i = 0; i < kEntriesPerTable; ++i)
      table[i] = ((d * kEntriesPerTable + i) * kLargePageSize) | kPtePresent | kPteWritable | kPteLargePage;
    if (!mem.write_obj(layout::kPdAddr + d * layout::kPageSize, table))
      return Error{"guest RAM does not cover the boot page tables"};
  }
  return Ok{};
}

kvm_sregs boot_sregs(const kvm_sregs& current, EntryMode mode) {
  kvm_sregs s = current;
  const auto gdt = boot_gdt(mode);
  s.gdt.base = layout::kGdtAddr;
  s.gdt.limit = static_cast<uint16_t>(gdt.size() * 8 - 1);
  s.idt.base = layout::kIdtAddr;
  s.idt.limit = 7;

  s.cs = segment_from_descriptor(gdt[kBootCodeSelector / 8], kBootCodeSelector);
  const kvm_segment data = segment_from_descriptor(gdt[kBootDataSelector / 8], kBootDataSelector);
  s.ds = s.es = s.fs = s.gs = s.ss = data;
  // VMX insists on a usable busy TSS in TR; the kernel loads its own before
  // it needs one, so TR need not be backed by a GDT entry (as after reset).
  s.tr = kvm_segment{};
  s.tr.limit = kTssLimit;
  s.tr.type = kTssTypeBusy;
  s.tr.present = 1;

  // Exact values, not bits added to KVM's reset state: caches on (no CD/NW).
  if (mode == EntryMode::k64Bit) {
    s.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
    s.cr3 = layout::kPml4Addr;
    s.cr4 = kCr4Pae;
    s.efer = kEferLme | kEferLma;
  } else {
    s.cr0 = kCr0Pe | kCr0Et;
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
  }
  return s;
}

kvm_regs boot_regs(const BootImage& image) {
  kvm_regs r{};
  r.rflags = 0x2;  // only the always-one bit: interrupts disabled
  r.rip = image.entry_rip;
  r.rsi = image.zero_page_gpa;
  r.rax = image.rax;
  r.rbx = image.rbx;
  r.rsp = layout::kBootStackTop;
  r.rbp = layout::kBootStackTop;
  return r;
}

kvm_fpu boot_fpu() {
  kvm_fpu f{};
  f.fcw = 0x37f;
  f.mxcsr = 0x1f80;
  return f;
}

std::vector<kvm_msr_entry> boot_msrs() {
  auto msr = [](uint32_t index, uint64_t data) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = data;
    return e;
  };
  return {
      msr(kMsrSysenterCs, 0),
      msr(kMsrSysenterEsp, 0),
      msr(kMsrSysenterEip, 0),
      msr(kMsrStar, 0),
      msr(kMsrLstar, 0),
      msr(kMsrCstar, 0),
      msr(kMsrSyscallMask, 0),
      msr(kMsrKernelGsBase, 0),
      msr(kMsrTsc, 0),
      msr(kMsrMiscEnable, kMiscEnableFastString),
      msr(kMsrMtrrDefType, kMtrrEnable | kMtrrTypeWriteBack),
  };
}

}  // namespace wren
