#pragma once
// Test helpers: Ethernet frames and MAC literals.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "virtio/net/mac_address.h"

namespace wren::test {

inline MacAddress mac(const char* text) {
  auto m = MacAddress::parse(text);
  if (!m) throw std::invalid_argument(text);
  return *m;
}

// A minimal frame to `dest` (from a fixed source), optionally 802.1Q-tagged,
// padded with `payload` zero bytes.
inline std::vector<uint8_t> frame_to(const MacAddress& dest, std::optional<uint16_t> vlan = std::nullopt,
                                     size_t payload = 46) {
  std::vector<uint8_t> f(dest.bytes.begin(), dest.bytes.end());
  for (uint8_t b : {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}) f.push_back(b);
  if (vlan) {
    f.push_back(0x81);
    f.push_back(0x00);
    f.push_back(static_cast<uint8_t>(*vlan >> 8));
    f.push_back(static_cast<uint8_t>(*vlan));
  }
  f.push_back(0x08);
  f.push_back(0x00);
  f.resize(f.size() + payload, 0);
  return f;
}

// frame_to(dest), sent from `source` instead of the fixed one.
inline std::vector<uint8_t> frame_from(const MacAddress& source, const MacAddress& dest) {
  auto f = frame_to(dest);
  for (size_t i = 0; i < MacAddress::kSize; ++i) f[MacAddress::kSize + i] = source.bytes[i];
  return f;
}

}  // namespace wren::test
