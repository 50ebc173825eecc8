#pragma once
// Helpers for register-style accesses of any width (1..8 bytes) in guest
// (little-endian) byte order.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

namespace wren {

inline uint64_t load_le(std::span<const uint8_t> bytes) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data(), std::min<size_t>(bytes.size(), 8));
  return v;
}

inline void store_le(std::span<uint8_t> bytes, uint64_t v) {
  std::memcpy(bytes.data(), &v, std::min<size_t>(bytes.size(), 8));
}

// Read `out.size()` bytes at `offset` from a register file `regs`, padding
// out-of-range bytes with zero.
inline void read_window(std::span<const uint8_t> regs, uint64_t offset, std::span<uint8_t> out) {
  for (size_t i = 0; i < out.size(); ++i) out[i] = offset + i < regs.size() ? regs[offset + i] : 0;
}

}  // namespace wren
