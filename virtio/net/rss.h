#pragma once
// Receive-side scaling and hash reporting (virtio 1.2, 5.1.6.4.3 and
// 5.1.6.5.7): the Toeplitz hash over the packet's addresses and ports, chosen
// by the hash types the driver enabled, and queue selection through the
// driver's indirection table.
#include "virtio/net/virtio_net_abi.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wren {

// What this device can hash (advertised in config supported_hash_types).
// The IPv6 "_EX" types (Home Address option / type-2 routing header
// addresses) are not supported, so a driver can never enable them.
inline constexpr uint32_t kRssSupportedHashTypes = VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |
                                                   VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 |
                                                   VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6;
inline constexpr uint8_t kRssMaxKeySize = 40;
inline constexpr uint16_t kRssMaxIndirectionTableLength = 128;

// The hash configuration the driver installed with RSS_CONFIG (steering) or
// HASH_CONFIG (hash reporting only). Plain guest-visible state.
struct RssConfig {
  bool enabled = false;   // a configuration is in force
  bool steering = false;  // RSS_CONFIG: steer RX by indirection_table
  uint32_t hash_types = 0;
  uint16_t unclassified_queue = 0;          // 0-based receive queue for unhashed packets
  std::vector<uint16_t> indirection_table;  // power-of-two length when steering; else empty
  std::vector<uint8_t> key;

  friend bool operator==(const RssConfig&, const RssConfig&) = default;
};

// Toeplitz hash of `input` under `key` (Microsoft RSS definition): for every
// set input bit i (most significant bit of input[0] first) XOR in the 32 key
// bits starting at bit i. Key bits past the end of `key` count as zero.
[[nodiscard]] uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input);

struct RssHash {
  uint32_t value = 0;
  uint16_t report = VIRTIO_NET_HASH_REPORT_NONE;  // VIRTIO_NET_HASH_REPORT_*
  friend bool operator==(const RssHash&, const RssHash&) = default;
};

// Hash of an Ethernet frame per the enabled `hash_types` (spec order: TCP,
// then UDP, then plain IP). Skips up to two VLAN tags; IPv6 extension headers
// are walked to find TCP/UDP; fragments are hashed as IP only. nullopt when
// no enabled type applies (the packet is "unclassified").
[[nodiscard]] std::optional<RssHash> rss_hash(std::span<const uint8_t> frame, uint32_t hash_types,
                                              std::span<const uint8_t> key);

// The 0-based receive queue for a packet under a steering configuration:
// the indirection table entry at (hash & (length - 1)), or the unclassified
// queue when there is no hash. Precondition: config.steering with a
// non-empty table (as validated by the control command).
[[nodiscard]] uint16_t rss_select_queue(const RssConfig& config, const std::optional<RssHash>& hash);

}  // namespace wren
