#pragma once
// Multiboot (version 1) loader, for kernels that are not a Linux bzImage, as
// QEMU's -kernel does: finds the multiboot header, loads the image (ELF32
// program segments, or the header's a.out-kludge address fields when flag 16
// is set), places the modules after it and builds the multiboot information
// structure (memory sizes, memory map, command lines, boot loader name,
// modules). The guest then starts in flat 32-bit protected mode with paging
// off, EAX = 0x2BADB002 and EBX = the information structure's address.
//
// Everything the kernel occupies must be RAM at or above 1 MiB (the loader's
// own structures and the ACPI tables live below) and outside the PCI hole.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/result.h"

namespace wren::multiboot {

inline constexpr uint32_t kHeaderMagic = 0x1BADB002;
inline constexpr uint32_t kBootloaderMagic = 0x2BADB002;  // in EAX at entry
inline constexpr size_t kSearchBytes = 8192;              // the header lies in the first 8 KiB

// Header flags (bits 0-15 are requirements, bits 16-31 optional features).
inline constexpr uint32_t kHeaderPageAlignModules = 1u << 0;
inline constexpr uint32_t kHeaderMemoryInfo = 1u << 1;
inline constexpr uint32_t kHeaderVideoMode = 1u << 2;
inline constexpr uint32_t kHeaderAoutKludge = 1u << 16;

// Information structure flags the loader sets.
inline constexpr uint32_t kInfoMemory = 1u << 0;
inline constexpr uint32_t kInfoCmdline = 1u << 2;
inline constexpr uint32_t kInfoModules = 1u << 3;
inline constexpr uint32_t kInfoMemoryMap = 1u << 6;
inline constexpr uint32_t kInfoBootLoaderName = 1u << 9;

inline constexpr std::string_view kBootLoaderName = "wren";

// The multiboot information structure (the spec's layout, 116 bytes).
struct [[gnu::packed]] Info {
  uint32_t flags;
  uint32_t mem_lower;  // KiB of RAM from 0
  uint32_t mem_upper;  // KiB of RAM from 1 MiB up to the first hole
  uint32_t boot_device;
  uint32_t cmdline;
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;
  uint32_t mmap_addr;
  uint32_t drives_length;
  uint32_t drives_addr;
  uint32_t config_table;
  uint32_t boot_loader_name;
  uint32_t apm_table;
  uint32_t vbe_control_info;
  uint32_t vbe_mode_info;
  uint16_t vbe_mode;
  uint16_t vbe_interface_seg;
  uint16_t vbe_interface_off;
  uint16_t vbe_interface_len;
  uint64_t framebuffer_addr;
  uint32_t framebuffer_pitch;
  uint32_t framebuffer_width;
  uint32_t framebuffer_height;
  uint8_t framebuffer_bpp;
  uint8_t framebuffer_type;
  uint8_t color_info[6];
};
static_assert(sizeof(Info) == 116);

struct [[gnu::packed]] ModuleEntry {
  uint32_t mod_start;
  uint32_t mod_end;  // first byte past the module
  uint32_t string;   // its command line
  uint32_t reserved;
};
static_assert(sizeof(ModuleEntry) == 16);

// One memory map entry; `size` counts the bytes after itself (20).
struct [[gnu::packed]] MemoryMapEntry {
  uint32_t size;
  uint64_t base_addr;
  uint64_t length;
  uint32_t type;  // 1 RAM, 2 reserved, 3 ACPI reclaimable (our E820Type values)
};
static_assert(sizeof(MemoryMapEntry) == 24);

// A validated multiboot header.
struct Header {
  size_t offset = 0;  // where in the file it was found
  uint32_t flags = 0;
  // The a.out-kludge address fields; meaningful when flags has kHeaderAoutKludge.
  uint32_t header_addr = 0;
  uint32_t load_addr = 0;
  uint32_t load_end_addr = 0;
  uint32_t bss_end_addr = 0;
  uint32_t entry_addr = 0;
};

// Finds the header: the magic at a 4-byte aligned offset within the first
// 8192 bytes, followed by flags and a checksum that make the three sum to 0.
// nullopt when no magic is present at all; an error when a magic is present
// but no copy of it has a valid checksum, or the header is truncated.
[[nodiscard]] Result<std::optional<Header>> find_header(std::span<const uint8_t> kernel);

// A module: its bytes and the command line the kernel sees for it.
struct Module {
  std::span<const uint8_t> bytes;
  std::string cmdline;
};

// One entry of a module list: the file to load and its command line.
struct ModuleSpec {
  std::string path;
  std::string cmdline;
};

// Splits `--initrd` for a multiboot kernel as QEMU does: modules are separated
// by ',' (",," stands for a literal comma), and each is "PATH[ ARGS]" where the
// path ends at the first space; the module's command line is the whole entry,
// path included (as GRUB and QEMU pass it). Empty entries are an error.
[[nodiscard]] Result<std::vector<ModuleSpec>> parse_module_list(std::string_view text);

// Loads a multiboot `kernel` whose header `find_header` found, `modules` in
// order (page aligned, after the kernel) and the information structure (in
// low memory below the EBDA) with `cmdline` as the kernel's command line and
// `e820` as the memory map. Nothing the caller passes can make it write
// outside guest RAM; every refusal is a human-readable error.
[[nodiscard]] Result<BootImage> load(GuestMemory& mem, std::span<const uint8_t> kernel,
                                     const std::vector<Module>& modules, std::string_view cmdline,
                                     const std::vector<E820Entry>& e820);

}  // namespace wren::multiboot
