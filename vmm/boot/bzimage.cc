#include "vmm/boot/bzimage.h"

#include <asm/bootparam.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "hypervisor/layout.h"
#include "vmm/boot/hex.h"

namespace wren {

namespace {

static_assert(sizeof(boot_params) == 4096);
static_assert(offsetof(boot_params, hdr) == 0x1f1);

constexpr size_t kHeaderOffset = 0x1f1;
constexpr size_t kHeaderEnd = kHeaderOffset + sizeof(setup_header);
constexpr size_t kMagicOffset = 0x202;
constexpr uint32_t kHdrSMagic = 0x53726448;     // "HdrS"
constexpr uint16_t kMinProtocol = 0x0206;       // cmdline_size and a 32-bit initrd_addr_max
constexpr uint16_t kProtocolInitSize = 0x020a;  // init_size, pref_address
constexpr uint16_t kProtocolXloadflags = 0x020c;
constexpr uint64_t k64BitEntryOffset = 0x200;
constexpr uint8_t kLoaderUndefined = 0xff;
constexpr uint16_t kVidModeNormal = 0xffff;
constexpr uint16_t kHeapEndPtr = 0xfe00;  // the whole 64 KiB real-mode segment

uint64_t align_up(uint64_t v, uint64_t a) { return a ? (v + a - 1) / a * a : v; }
uint64_t align_down(uint64_t v, uint64_t a) { return a ? v / a * a : v; }

setup_header read_header(std::span<const uint8_t> kernel) {
  setup_header hdr;
  std::memcpy(&hdr, kernel.data() + kHeaderOffset, sizeof(hdr));
  return hdr;
}

}  // namespace

std::string boot_protocol_string(uint16_t version) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%u.%02u", version >> 8, version & 0xffu);
  return buf;
}

bool has_bzimage_magic(std::span<const uint8_t> kernel) {
  return kernel.size() >= kHeaderEnd && read_header(kernel).header == kHdrSMagic;
}

uint64_t low_ram_top(const std::vector<MemoryRegion>& regions) {
  for (const auto& r : regions)
    if (layout::kKernelLoadAddr >= r.gpa && layout::kKernelLoadAddr - r.gpa < r.size) return r.gpa + r.size;
  return 0;
}

uint64_t boot_footprint_end(const BzImageInfo& info) {
  // A relocatable kernel decompresses at the load address aligned up, but
  // never below its preferred address; a fixed one at its preferred address.
  // Either way it needs init_size bytes from there.
  uint64_t decompress_at = layout::kKernelLoadAddr;
  if (info.relocatable) decompress_at = align_up(decompress_at, info.kernel_alignment);
  decompress_at = std::max(decompress_at, info.pref_address);
  return std::max(layout::kKernelLoadAddr + info.kernel_bytes, decompress_at + info.init_size);
}

Result<KernelPlacement> place_kernel(const BzImageInfo& info, std::string_view cmdline, uint64_t initrd_size,
                                     uint64_t ram_top, uint64_t initrd_limit) {
  KernelPlacement placed;
  placed.kernel_end = boot_footprint_end(info);
  if (placed.kernel_end > ram_top)
    return Error{"guest RAM too small for the kernel: it needs memory up to " + hex(placed.kernel_end) +
                 " but low RAM ends at " + hex(ram_top)};

  // Command line: NUL-terminated, within the kernel's and our area's limits.
  const uint64_t cmdline_max = std::min<uint64_t>(info.cmdline_size, layout::kCmdlineMax - 1);
  if (cmdline.size() > cmdline_max)
    return Error{"command line of " + std::to_string(cmdline.size()) +
                 " bytes is too long (this kernel accepts at most " + std::to_string(cmdline_max) + ")"};
  if (cmdline.find('\0') != std::string_view::npos) return Error{"command line contains a NUL byte"};

  // Initrd: page aligned, as high as possible below what the kernel can
  // address and the limit, above the kernel.
  if (initrd_size) {
    const uint64_t limit = std::min<uint64_t>(uint64_t{info.initrd_addr_max} + 1, initrd_limit);
    const uint64_t floor = align_up(placed.kernel_end, layout::kPageSize);
    if (initrd_size > limit || align_down(limit - initrd_size, layout::kPageSize) < floor)
      return Error{"initrd of " + std::to_string(initrd_size) + " bytes does not fit below " + hex(limit) +
                   " (the kernel occupies memory up to " + hex(placed.kernel_end) + ")"};
    placed.initrd_gpa = align_down(limit - initrd_size, layout::kPageSize);
  }
  return placed;
}

Result<BzImageInfo> parse_bzimage(std::span<const uint8_t> kernel) {
  if (kernel.empty()) return Error{"kernel image is empty"};
  if (kernel.size() < kHeaderEnd)
    return Error{"not a bzImage (only " + std::to_string(kernel.size()) + " bytes, too short for a setup header)"};
  const setup_header hdr = read_header(kernel);
  if (hdr.header != kHdrSMagic) return Error{"not a bzImage (no HdrS magic)"};
  if (hdr.version < kMinProtocol)
    return Error{"boot protocol " + boot_protocol_string(hdr.version) +
                 " too old (need >= " + boot_protocol_string(kMinProtocol) + ")"};
  if (!(hdr.loadflags & LOADED_HIGH))
    return Error{"not a bzImage (LOADED_HIGH not set: zImage kernels that load at 0x10000 are not supported)"};

  BzImageInfo info;
  info.protocol_version = hdr.version;
  const uint32_t setup_sects = hdr.setup_sects == 0 ? 4 : hdr.setup_sects;
  info.setup_bytes = (setup_sects + 1) * 512;
  if (info.setup_bytes >= kernel.size())
    return Error{"kernel image truncated: its setup code needs " + std::to_string(info.setup_bytes) +
                 " bytes but the file has only " + std::to_string(kernel.size())};
  info.kernel_bytes = kernel.size() - info.setup_bytes;
  // The build pads the protected-mode part to syssize paragraphs; a file
  // shorter than that lost its tail (16 bytes of slack for the CRC/padding).
  const uint64_t declared = uint64_t{hdr.syssize} * 16;
  if (info.kernel_bytes + 16 < declared)
    return Error{"kernel image truncated: header declares " + std::to_string(declared) +
                 " bytes of protected-mode code but the file has only " + std::to_string(info.kernel_bytes)};

  info.supports_64bit_entry = hdr.version >= kProtocolXloadflags && (hdr.xloadflags & XLF_KERNEL_64);
  info.relocatable = hdr.relocatable_kernel != 0;
  info.kernel_alignment = hdr.kernel_alignment;
  if (info.relocatable && (hdr.kernel_alignment == 0 || (hdr.kernel_alignment & (hdr.kernel_alignment - 1))))
    return Error{"invalid kernel_alignment " + hex(hdr.kernel_alignment) + " in the setup header"};
  if (hdr.version >= kProtocolInitSize) {
    info.pref_address = hdr.pref_address;
    info.init_size = hdr.init_size;
  }
  info.initrd_addr_max = hdr.initrd_addr_max;
  info.cmdline_size = hdr.cmdline_size;
  return info;
}

Result<BootImage> load_bzimage(GuestMemory& mem, std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                               std::string_view cmdline, const std::vector<E820Entry>& e820, bool allow_64bit_entry) {
  auto parsed = parse_bzimage(kernel);
  if (!parsed) return Error{parsed.error()};
  const BzImageInfo& info = parsed.value();

  BootImage image;
  image.protocol_version = info.protocol_version;
  image.zero_page_gpa = layout::kZeroPageAddr;
  image.cmdline_gpa = layout::kCmdlineAddr;
  if (info.supports_64bit_entry && allow_64bit_entry) {
    image.mode = EntryMode::k64Bit;
    image.entry_rip = layout::kKernelLoadAddr + k64BitEntryOffset;
  } else {
    image.mode = EntryMode::k32Bit;
    image.entry_rip = layout::kKernelLoadAddr;
  }

  const uint64_t ram_top = low_ram_top(mem.regions());
  auto placed = place_kernel(info, cmdline, initrd.size(), ram_top, ram_top);
  if (!placed) return Error{placed.error()};
  image.kernel_end = placed->kernel_end;
  image.initrd_gpa = placed->initrd_gpa;
  image.initrd_size = initrd.size();

  if (e820.size() > E820_MAX_ENTRIES_ZEROPAGE)
    return Error{"memory map has " + std::to_string(e820.size()) + " entries; the zero page holds at most " +
                 std::to_string(E820_MAX_ENTRIES_ZEROPAGE)};

  // Zero page: the kernel's own setup header, then what the loader fills in.
  boot_params params{};
  const size_t header_end = std::min<size_t>(kMagicOffset + kernel[0x201], kHeaderEnd);
  std::memcpy(reinterpret_cast<uint8_t*>(&params) + kHeaderOffset, kernel.data() + kHeaderOffset,
              header_end - kHeaderOffset);
  setup_header& hdr = params.hdr;
  hdr.type_of_loader = kLoaderUndefined;
  hdr.loadflags |= CAN_USE_HEAP;
  hdr.heap_end_ptr = kHeapEndPtr;
  hdr.vid_mode = kVidModeNormal;
  hdr.cmd_line_ptr = static_cast<uint32_t>(layout::kCmdlineAddr);
  hdr.code32_start = static_cast<uint32_t>(layout::kKernelLoadAddr);
  hdr.ramdisk_image = static_cast<uint32_t>(image.initrd_gpa);
  hdr.ramdisk_size = static_cast<uint32_t>(image.initrd_size);
  hdr.hardware_subarch = 0;  // X86_SUBARCH_PC
  hdr.hardware_subarch_data = 0;
  params.e820_entries = static_cast<uint8_t>(e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    params.e820_table[i].addr = e820[i].addr;
    params.e820_table[i].size = e820[i].size;
    params.e820_table[i].type = static_cast<uint32_t>(e820[i].type);
  }

  std::vector<uint8_t> cmdline_bytes(cmdline.begin(), cmdline.end());
  cmdline_bytes.push_back(0);
  if (!mem.write_obj(layout::kZeroPageAddr, params)) return Error{"guest RAM does not cover the zero page"};
  if (!mem.write(layout::kCmdlineAddr, cmdline_bytes)) return Error{"guest RAM does not cover the command line"};
  if (!mem.write(layout::kKernelLoadAddr, kernel.subspan(info.setup_bytes)))
    return Error{"guest RAM too small for the " + std::to_string(info.kernel_bytes) + "-byte kernel"};
  if (!initrd.empty() && !mem.write(image.initrd_gpa, initrd)) return Error{"guest RAM does not cover the initrd"};
  return image;
}

}  // namespace wren
