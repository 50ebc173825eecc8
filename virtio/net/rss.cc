#include "virtio/net/rss.h"

#include <array>

namespace wren {

uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input) {
  auto key_byte = [&key](size_t i) -> uint64_t { return i < key.size() ? key[i] : 0; };
  // `window` holds key bits [8*i, 8*i + 64): its top 32 bits are the key
  // word for the most significant bit of input byte i.
  uint64_t window = 0;
  for (size_t i = 0; i < 8; ++i) window = window << 8 | key_byte(i);
  uint32_t result = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit)
      if (input[i] & (0x80 >> bit)) result ^= static_cast<uint32_t>(window >> (32 - bit));
    window = window << 8 | key_byte(i + 8);
  }
  return result;
}

namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kUdpHeader = 8;

uint16_t be16(std::span<const uint8_t> b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }

// The L3/L4 facts the hash needs, located in the frame.
struct FlowKey {
  bool ipv6 = false;
  std::span<const uint8_t> addresses;  // source then destination (8 or 32 bytes)
  uint8_t l4_proto = 0;                // TCP/UDP with a complete header, else 0
  std::span<const uint8_t> ports;      // source then destination port (4 bytes) when l4_proto != 0
};

// L4 protocol and ports if `packet` at `offset` holds a complete TCP/UDP header.
void locate_ports(FlowKey& key, std::span<const uint8_t> packet, size_t offset, uint8_t proto) {
  const size_t need = proto == kProtoTcp ? kTcpMinHeader : proto == kProtoUdp ? kUdpHeader : 0;
  if (need == 0 || offset > packet.size() || packet.size() - offset < need) return;
  key.l4_proto = proto;
  key.ports = packet.subspan(offset, 4);
}

std::optional<FlowKey> parse_ipv4(std::span<const uint8_t> ip) {
  if (ip.size() < 20 || (ip[0] >> 4) != 4) return std::nullopt;
  const size_t header_len = size_t{ip[0] & 0x0fu} * 4;
  if (header_len < 20 || header_len > ip.size()) return std::nullopt;
  FlowKey key;
  key.addresses = ip.subspan(12, 8);
  const bool fragment = (be16(ip, 6) & 0x3fff) != 0;  // MF set or a non-zero offset
  if (!fragment) locate_ports(key, ip, header_len, ip[9]);
  return key;
}

std::optional<FlowKey> parse_ipv6(std::span<const uint8_t> ip) {
  if (ip.size() < 40 || (ip[0] >> 4) != 6) return std::nullopt;
  FlowKey key;
  key.ipv6 = true;
  key.addresses = ip.subspan(8, 32);
  uint8_t next = ip[6];
  size_t offset = 40;
  // Walk a bounded number of extension headers looking for TCP/UDP.
  for (int hops = 0; hops < 8; ++hops) {
    switch (next) {
      case 0:     // hop-by-hop options
      case 43:    // routing
      case 60: {  // destination options
        if (ip.size() - offset < 8) return key;
        const uint8_t following = ip[offset];
        offset += (size_t{ip[offset + 1]} + 1) * 8;
        if (offset > ip.size()) return key;
        next = following;
        break;
      }
      case 44:  // fragment: hash as IP only (later fragments carry no ports)
        return key;
      default: locate_ports(key, ip, offset, next); return key;
    }
  }
  return key;
}

}  // namespace

std::optional<RssHash> rss_hash(std::span<const uint8_t> frame, uint32_t hash_types, std::span<const uint8_t> key) {
  if (frame.size() < 14) return std::nullopt;
  size_t offset = 12;
  uint16_t ether_type = be16(frame, offset);
  for (int tags = 0; tags < 2 && (ether_type == kEtherTypeVlan || ether_type == kEtherTypeQinQ); ++tags) {
    offset += 4;
    if (frame.size() < offset + 2) return std::nullopt;
    ether_type = be16(frame, offset);
  }
  offset += 2;
  const auto l3 = frame.subspan(offset);

  std::optional<FlowKey> flow;
  if (ether_type == kEtherTypeIpv4) flow = parse_ipv4(l3);
  if (ether_type == kEtherTypeIpv6) flow = parse_ipv6(l3);
  if (!flow) return std::nullopt;

  const uint32_t tcp = flow->ipv6 ? VIRTIO_NET_RSS_HASH_TYPE_TCPv6 : VIRTIO_NET_RSS_HASH_TYPE_TCPv4;
  const uint32_t udp = flow->ipv6 ? VIRTIO_NET_RSS_HASH_TYPE_UDPv6 : VIRTIO_NET_RSS_HASH_TYPE_UDPv4;
  const uint32_t ip = flow->ipv6 ? VIRTIO_NET_RSS_HASH_TYPE_IPv6 : VIRTIO_NET_RSS_HASH_TYPE_IPv4;

  std::array<uint8_t, 36> input{};
  size_t len = 0;
  for (uint8_t b : flow->addresses) input[len++] = b;

  uint16_t report = VIRTIO_NET_HASH_REPORT_NONE;
  bool with_ports = false;
  if (flow->l4_proto == kProtoTcp && (hash_types & tcp)) {
    report = flow->ipv6 ? VIRTIO_NET_HASH_REPORT_TCPv6 : VIRTIO_NET_HASH_REPORT_TCPv4;
    with_ports = true;
  } else if (flow->l4_proto == kProtoUdp && (hash_types & udp)) {
    report = flow->ipv6 ? VIRTIO_NET_HASH_REPORT_UDPv6 : VIRTIO_NET_HASH_REPORT_UDPv4;
    with_ports = true;
  } else if (hash_types & ip) {
    report = flow->ipv6 ? VIRTIO_NET_HASH_REPORT_IPv6 : VIRTIO_NET_HASH_REPORT_IPv4;
  } else {
    return std::nullopt;
  }
  if (with_ports)
    for (uint8_t b : flow->ports) input[len++] = b;
  return RssHash{toeplitz_hash(key, std::span(input.data(), len)), report};
}

uint16_t rss_select_queue(const RssConfig& config, const std::optional<RssHash>& hash) {
  if (!hash || config.indirection_table.empty()) return config.unclassified_queue;
  return config.indirection_table[hash->value & (config.indirection_table.size() - 1)];
}

}  // namespace wren
