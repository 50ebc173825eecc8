#pragma once
// Whether a byte range is all zero, 64 bytes at a time: live migration and
// snapshots ask this of every guest page, so a byte-at-a-time loop would
// cost more than sending the pages.
#include <cstdint>
#include <cstring>
#include <span>

namespace wren {

inline bool bytes_are_zero(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 64; p += 64, n -= 64) {
    uint64_t w[8];
    std::memcpy(w, p, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  for (; n > 0; ++p, --n)
    if (*p != 0) return false;
  return true;
}

}  // namespace wren
