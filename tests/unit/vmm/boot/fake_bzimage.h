#pragma once
// A bzImage-shaped byte vector for loader tests: a setup header with the
// fields a spec chooses, padding, then a patterned protected-mode part.
#include <asm/bootparam.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "hypervisor/layout.h"

namespace wren {

struct FakeKernelSpec {
  uint16_t version = 0x020f;
  uint8_t setup_sects = 4;
  uint8_t loadflags = LOADED_HIGH;
  uint16_t xloadflags = XLF_KERNEL_64;
  size_t kernel_bytes = 64 * 1024;  // protected-mode part
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t cmdline_size = 2048;
  uint32_t init_size = 4 * layout::kMiB;
  uint64_t pref_address = 16 * layout::kMiB;
  uint8_t relocatable = 1;
  uint32_t kernel_alignment = 2 * layout::kMiB;
  uint32_t magic = 0x53726448;  // "HdrS"
  int header_end_offset = -1;   // byte at 0x201; -1: the whole struct
};

// `n` bytes of a repeating pattern that differs per seed (initrds, images).
inline std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 13 + seed);
  return v;
}

constexpr uint8_t kernel_byte(size_t i) { return static_cast<uint8_t>((i * 7 + 3) & 0xff); }

inline std::vector<uint8_t> make_bzimage(const FakeKernelSpec& spec) {
  const size_t setup_bytes = (size_t{spec.setup_sects == 0 ? 4u : spec.setup_sects} + 1) * 512;
  std::vector<uint8_t> image(setup_bytes + spec.kernel_bytes, 0);
  setup_header hdr{};
  hdr.setup_sects = spec.setup_sects;
  hdr.syssize = static_cast<uint32_t>((spec.kernel_bytes + 15) / 16);
  hdr.boot_flag = 0xaa55;
  hdr.header = spec.magic;
  hdr.version = spec.version;
  hdr.loadflags = spec.loadflags;
  hdr.initrd_addr_max = spec.initrd_addr_max;
  hdr.kernel_alignment = spec.kernel_alignment;
  hdr.relocatable_kernel = spec.relocatable;
  hdr.xloadflags = spec.xloadflags;
  hdr.cmdline_size = spec.cmdline_size;
  hdr.pref_address = spec.pref_address;
  hdr.init_size = spec.init_size;
  std::memcpy(image.data() + 0x1f1, &hdr, sizeof(hdr));
  image[0x200] = 0xeb;  // jmp short over the header
  image[0x201] = spec.header_end_offset >= 0 ? static_cast<uint8_t>(spec.header_end_offset)
                                             : static_cast<uint8_t>(0x1f1 + sizeof(setup_header) - 0x202);
  for (size_t i = 0; i < spec.kernel_bytes; ++i) image[setup_bytes + i] = kernel_byte(i);
  return image;
}

}  // namespace wren
