#pragma once
// An Ethernet (IEEE 802) MAC address: six bytes, a value type.
#include <array>
#include <compare>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wren {

struct MacAddress {
  static constexpr size_t kSize = 6;
  std::array<uint8_t, kSize> bytes{};

  static constexpr MacAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }

  // The first six bytes of `in`; nullopt if fewer are present.
  static std::optional<MacAddress> from_bytes(std::span<const uint8_t> in) {
    if (in.size() < kSize) return std::nullopt;
    MacAddress mac;
    for (size_t i = 0; i < kSize; ++i) mac.bytes[i] = in[i];
    return mac;
  }

  // "aa:bb:cc:dd:ee:ff" (hex digits of either case, exactly two per byte).
  static std::optional<MacAddress> parse(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    MacAddress mac;
    for (size_t i = 0; i < kSize; ++i) {
      const size_t at = i * 3;
      if (i > 0 && text[at - 1] != ':') return std::nullopt;
      const int hi = hex_digit(text[at]);
      const int lo = hex_digit(text[at + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      mac.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return mac;
  }

  std::string to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                  bytes[5]);
    return buf;
  }

  // The I/G bit (bit 0 of the first byte on the wire) marks group addresses.
  constexpr bool is_multicast() const { return (bytes[0] & 1) != 0; }
  constexpr bool is_unicast() const { return !is_multicast(); }
  constexpr bool is_broadcast() const { return *this == broadcast(); }
  constexpr bool is_zero() const { return *this == MacAddress{}; }
  // A usable station address: unicast and not all zeros.
  constexpr bool is_valid_station() const { return is_unicast() && !is_zero(); }

  friend constexpr auto operator<=>(const MacAddress&, const MacAddress&) = default;

 private:
  static constexpr int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
};

}  // namespace wren
