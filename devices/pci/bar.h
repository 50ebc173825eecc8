#pragma once
// What a PCI Base Address Register decodes: its kind and size. The address
// itself lives in config space (the guest may move it).
#include <cstdint>

namespace wren::pci {

inline constexpr int kNumBars = 6;

enum class BarKind : uint8_t {
  kMemory32,  // 32-bit memory BAR (one register)
  kMemory64,  // 64-bit memory BAR (this register and the next)
  kIo,        // port I/O BAR
};

struct BarSpec {
  BarKind kind = BarKind::kMemory32;
  uint64_t size = 0;  // power of two; memory >= 16 bytes, I/O 4..256 bytes
  bool prefetchable = false;

  bool is_io() const { return kind == BarKind::kIo; }
  bool is_64bit() const { return kind == BarKind::kMemory64; }
};

// Config-space offset of BAR register `index`.
inline constexpr uint16_t bar_register(int index) { return static_cast<uint16_t>(0x10 + 4 * index); }

}  // namespace wren::pci
