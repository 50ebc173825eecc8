#pragma once
// Linux x86 boot protocol (2.06 and later) loader for bzImage kernels:
// validates the setup header, places the protected-mode kernel, command line
// and initrd in guest memory and builds the zero page (struct boot_params).
// The guest then starts at the 64-bit (or 32-bit) entry point with paging and
// segments set up by x86_entry.h.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/result.h"

namespace wren {

enum class EntryMode {
  k64Bit,  // long mode, paging on; entry at load address + 0x200 (XLF_KERNEL_64)
  k32Bit,  // flat protected mode, paging off; entry at the load address
};

// What the setup header tells us, validated.
struct BzImageInfo {
  uint16_t protocol_version = 0;  // e.g. 0x020f for 2.15
  uint32_t setup_bytes = 0;       // real-mode part: (setup_sects + 1) * 512
  uint64_t kernel_bytes = 0;      // protected-mode part: the rest of the file
  bool supports_64bit_entry = false;
  bool relocatable = false;
  uint32_t kernel_alignment = 0;
  uint64_t pref_address = 0;     // 0 before protocol 2.10
  uint32_t init_size = 0;        // 0 before protocol 2.10
  uint32_t initrd_addr_max = 0;  // highest byte address an initrd may occupy
  uint32_t cmdline_size = 0;     // longest command line, without the NUL
};

// The loaded kernel: where vCPU 0 starts and with what.
struct BootImage {
  EntryMode mode = EntryMode::k64Bit;
  uint64_t entry_rip = 0;
  uint64_t zero_page_gpa = 0;  // goes in rsi (64-bit) / esi (32-bit)
  uint64_t cmdline_gpa = 0;
  uint64_t kernel_end = 0;  // first byte past the memory the kernel uses while booting
  uint64_t initrd_gpa = 0;  // 0 and 0 without an initrd
  uint64_t initrd_size = 0;
  uint16_t protocol_version = 0;
  uint64_t rax = 0;  // multiboot: the boot loader magic
  uint64_t rbx = 0;  // multiboot: the information structure's address
};

// True if `kernel` carries the "HdrS" magic of the Linux boot protocol.
bool has_bzimage_magic(std::span<const uint8_t> kernel);

// Parses and validates the setup header of `kernel` (a bzImage file's bytes).
[[nodiscard]] Result<BzImageInfo> parse_bzimage(std::span<const uint8_t> kernel);

// End of the RAM region holding layout::kKernelLoadAddr (0 if none): the
// initrd and the decompressed kernel must both fit below it.
uint64_t low_ram_top(const std::vector<MemoryRegion>& regions);

// First byte past the memory a kernel loaded at layout::kKernelLoadAddr
// occupies while it decompresses and boots.
uint64_t boot_footprint_end(const BzImageInfo& info);

// Where a kernel loaded at layout::kKernelLoadAddr ends and where its
// initrd goes: checks the boot footprint against `ram_top` and the command
// line against the kernel's and Wren's limits, and places `initrd_size` bytes
// (none: initrd_gpa 0) page aligned as high as possible below
// min(initrd_addr_max + 1, initrd_limit) and above the kernel.
struct KernelPlacement {
  uint64_t kernel_end = 0;
  uint64_t initrd_gpa = 0;
};
[[nodiscard]] Result<KernelPlacement> place_kernel(const BzImageInfo& info, std::string_view cmdline,
                                                   uint64_t initrd_size, uint64_t ram_top, uint64_t initrd_limit);

// Loads `kernel` at layout::kKernelLoadAddr, `initrd` (may be empty) as high
// as possible in low RAM, `cmdline` at layout::kCmdlineAddr and the zero page
// at layout::kZeroPageAddr, with `e820` as the memory map. Uses the 64-bit
// entry when the kernel has one and `allow_64bit_entry` is set. Nothing the
// caller passes can make it write outside guest RAM; every refusal is a
// human-readable error.
[[nodiscard]] Result<BootImage> load_bzimage(GuestMemory& mem, std::span<const uint8_t> kernel,
                                             std::span<const uint8_t> initrd, std::string_view cmdline,
                                             const std::vector<E820Entry>& e820, bool allow_64bit_entry = true);

// "2.15" for 0x020f.
std::string boot_protocol_string(uint16_t version);

}  // namespace wren
