// Toeplitz hash and RSS queue selection against the Microsoft RSS
// verification suite (key 6d5a56da..., published IPv4/IPv6 results).
#include "virtio/net/rss.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>

namespace wren {
namespace {

const std::array<uint8_t, 40> kKey = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                      0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                      0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                      0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

struct Vector {
  const char* dst;
  uint16_t dst_port;
  const char* src;
  uint16_t src_port;
  uint32_t ip_only;
  uint32_t with_ports;
};

const Vector kIpv4[] = {
    {"161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178},
    {"65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea},
    {"12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a},
    {"209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f},
    {"202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2},
};
const Vector kIpv6[] = {
    {"3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2cc18cd5, 0x40207d3d},
    {"ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0f0c461c, 0xdde51bbf},
    {"fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x4b61e985, 0x02d1feef},
};

std::vector<uint8_t> addr(int family, const char* text) {
  std::vector<uint8_t> out(family == AF_INET ? 4 : 16);
  if (inet_pton(family, text, out.data()) != 1) throw std::invalid_argument(text);
  return out;
}
void be16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

TEST(Toeplitz, MicrosoftVectorsOverRawInput) {
  for (int family : {AF_INET, AF_INET6}) {
    for (const auto& v : (family == AF_INET ? std::span<const Vector>(kIpv4) : std::span<const Vector>(kIpv6))) {
      std::vector<uint8_t> in = addr(family, v.src);
      const auto dst = addr(family, v.dst);
      in.insert(in.end(), dst.begin(), dst.end());
      EXPECT_EQ(toeplitz_hash(kKey, in), v.ip_only) << v.src;
      be16(in, v.src_port);
      be16(in, v.dst_port);
      EXPECT_EQ(toeplitz_hash(kKey, in), v.with_ports) << v.src;
    }
  }
}

TEST(Toeplitz, ShortKeyBitsCountAsZero) {
  // Key bit 31 is the only set bit: input bit i (i < 32) sees it at result
  // bit i; input bits 32..63 see only key bits past the end, which are zero.
  const uint8_t key4[4] = {0, 0, 0, 1};
  const uint8_t ones4[4] = {0xff, 0xff, 0xff, 0xff};
  const uint8_t ones8[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(toeplitz_hash(key4, ones4), 0xffffffffu);
  EXPECT_EQ(toeplitz_hash(key4, ones8), 0xffffffffu);
  const uint8_t first_bit[1] = {0x80};
  EXPECT_EQ(toeplitz_hash(key4, first_bit), 0x00000001u);
  EXPECT_EQ(toeplitz_hash({}, ones4), 0u);
  EXPECT_EQ(toeplitz_hash(kKey, {}), 0u);
}

constexpr uint8_t kTcp = 6, kUdp = 17;

// Ethernet + IPv4 (optionally with options / as a fragment) + TCP or UDP header.
std::vector<uint8_t> ipv4_frame(const Vector& v, uint8_t proto, bool fragment = false, int option_words = 0,
                                std::optional<uint16_t> vlan = std::nullopt) {
  std::vector<uint8_t> f(12, 0x11);
  if (vlan) {
    be16(f, 0x8100);
    be16(f, *vlan);
  }
  be16(f, 0x0800);
  f.push_back(static_cast<uint8_t>(0x45 + option_words));
  f.push_back(0);
  be16(f, 60);
  be16(f, 0);
  be16(f, fragment ? 0x2000 : 0x4000);  // MF, or DF
  f.push_back(64);
  f.push_back(proto);
  be16(f, 0);
  const auto src = addr(AF_INET, v.src), dst = addr(AF_INET, v.dst);
  f.insert(f.end(), src.begin(), src.end());
  f.insert(f.end(), dst.begin(), dst.end());
  for (int i = 0; i < option_words * 4; ++i) f.push_back(1);  // NOPs
  be16(f, v.src_port);
  be16(f, v.dst_port);
  f.resize(f.size() + (proto == kTcp ? 16 : 4), 0);
  return f;
}

std::vector<uint8_t> ipv6_frame(const Vector& v, uint8_t proto, bool hop_by_hop = false, bool fragment = false) {
  std::vector<uint8_t> f(12, 0x11);
  be16(f, 0x86dd);
  f.push_back(0x60);
  f.insert(f.end(), {0, 0, 0});
  be16(f, 40);
  f.push_back(hop_by_hop ? 0 : fragment ? 44 : proto);
  f.push_back(64);
  const auto src = addr(AF_INET6, v.src), dst = addr(AF_INET6, v.dst);
  f.insert(f.end(), src.begin(), src.end());
  f.insert(f.end(), dst.begin(), dst.end());
  if (hop_by_hop) f.insert(f.end(), {proto, 0, 1, 4, 0, 0, 0, 0});  // next, len 0 (8 bytes), PadN
  if (fragment) f.insert(f.end(), {proto, 0, 0, 0, 0, 0, 0, 1});
  be16(f, v.src_port);
  be16(f, v.dst_port);
  f.resize(f.size() + (proto == kTcp ? 16 : 4), 0);
  return f;
}

constexpr uint32_t kAllTypes = kRssSupportedHashTypes;

TEST(RssHash, Ipv4VectorsOverFrames) {
  for (const auto& v : kIpv4) {
    auto tcp = rss_hash(ipv4_frame(v, kTcp), kAllTypes, kKey);
    ASSERT_TRUE(tcp);
    EXPECT_EQ(*tcp, (RssHash{v.with_ports, VIRTIO_NET_HASH_REPORT_TCPv4}));
    auto udp = rss_hash(ipv4_frame(v, kUdp), kAllTypes, kKey);
    EXPECT_EQ(udp, (RssHash{v.with_ports, VIRTIO_NET_HASH_REPORT_UDPv4}));
    // IP only when the L4 type is not enabled.
    EXPECT_EQ(rss_hash(ipv4_frame(v, kTcp), VIRTIO_NET_RSS_HASH_TYPE_IPv4, kKey),
              (RssHash{v.ip_only, VIRTIO_NET_HASH_REPORT_IPv4}));
    EXPECT_EQ(rss_hash(ipv4_frame(v, kUdp), VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4, kKey),
              (RssHash{v.ip_only, VIRTIO_NET_HASH_REPORT_IPv4}));
    // Nothing applies: unclassified.
    EXPECT_EQ(rss_hash(ipv4_frame(v, kTcp), VIRTIO_NET_RSS_HASH_TYPE_UDPv4, kKey), std::nullopt);
    EXPECT_EQ(rss_hash(ipv4_frame(v, kTcp), VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_IPv6, kKey),
              std::nullopt);
  }
}

TEST(RssHash, Ipv4Variants) {
  const auto& v = kIpv4[0];
  EXPECT_EQ(rss_hash(ipv4_frame(v, kTcp, false, 2), kAllTypes, kKey),
            (RssHash{v.with_ports, VIRTIO_NET_HASH_REPORT_TCPv4}))
      << "ports found after IP options";
  EXPECT_EQ(rss_hash(ipv4_frame(v, kTcp, false, 0, 5), kAllTypes, kKey),
            (RssHash{v.with_ports, VIRTIO_NET_HASH_REPORT_TCPv4}))
      << "VLAN tag skipped";
  EXPECT_EQ(rss_hash(ipv4_frame(v, kTcp, true), kAllTypes, kKey), (RssHash{v.ip_only, VIRTIO_NET_HASH_REPORT_IPv4}))
      << "fragments hash as IP";
  auto truncated = ipv4_frame(v, kTcp);
  truncated.resize(truncated.size() - 1);  // TCP header incomplete
  EXPECT_EQ(rss_hash(truncated, kAllTypes, kKey), (RssHash{v.ip_only, VIRTIO_NET_HASH_REPORT_IPv4}));
  auto icmp = ipv4_frame(v, 1);
  EXPECT_EQ(rss_hash(icmp, kAllTypes, kKey), (RssHash{v.ip_only, VIRTIO_NET_HASH_REPORT_IPv4}));
  auto bad_ihl = ipv4_frame(v, kTcp);
  bad_ihl[14] = 0x44;
  EXPECT_EQ(rss_hash(bad_ihl, kAllTypes, kKey), std::nullopt);
  auto arp = ipv4_frame(v, kTcp);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(rss_hash(arp, kAllTypes, kKey), std::nullopt);
  EXPECT_EQ(rss_hash(std::vector<uint8_t>(13), kAllTypes, kKey), std::nullopt);
  auto cut = ipv4_frame(v, kTcp);
  for (size_t n = 0; n < 34; ++n) EXPECT_EQ(rss_hash(std::span(cut).first(n), kAllTypes, kKey), std::nullopt) << n;
}

TEST(RssHash, Ipv6VectorsOverFrames) {
  for (const auto& v : kIpv6) {
    EXPECT_EQ(rss_hash(ipv6_frame(v, kTcp), kAllTypes, kKey), (RssHash{v.with_ports, VIRTIO_NET_HASH_REPORT_TCPv6}));
    EXPECT_EQ(rss_hash(ipv6_frame(v, kUdp), kAllTypes, kKey), (RssHash{v.with_ports, VIRTIO_NET_HASH_REPORT_UDPv6}));
    EXPECT_EQ(rss_hash(ipv6_frame(v, kTcp), VIRTIO_NET_RSS_HASH_TYPE_IPv6, kKey),
              (RssHash{v.ip_only, VIRTIO_NET_HASH_REPORT_IPv6}));
    EXPECT_EQ(rss_hash(ipv6_frame(v, kTcp, true), kAllTypes, kKey),
              (RssHash{v.with_ports, VIRTIO_NET_HASH_REPORT_TCPv6}))
        << "extension header walked";
    EXPECT_EQ(rss_hash(ipv6_frame(v, kTcp, false, true), kAllTypes, kKey),
              (RssHash{v.ip_only, VIRTIO_NET_HASH_REPORT_IPv6}))
        << "fragment hashed as IP";
    EXPECT_EQ(rss_hash(ipv6_frame(v, kTcp),
                       kRssSupportedHashTypes & ~VIRTIO_NET_RSS_HASH_TYPE_IPv6 & ~VIRTIO_NET_RSS_HASH_TYPE_TCPv6, kKey),
              std::nullopt);
  }
}

TEST(RssSelectQueue, ThroughTheIndirectionTable) {
  RssConfig cfg;
  cfg.enabled = cfg.steering = true;
  cfg.indirection_table = {0, 1, 2, 3, 3, 2, 1, 0};
  cfg.unclassified_queue = 2;
  EXPECT_EQ(rss_select_queue(cfg, RssHash{0x51ccc178, 2}), cfg.indirection_table[0x51ccc178 & 7]);
  EXPECT_EQ(rss_select_queue(cfg, RssHash{5, 2}), 2);
  EXPECT_EQ(rss_select_queue(cfg, RssHash{0xfffffff9, 2}), 1);
  EXPECT_EQ(rss_select_queue(cfg, std::nullopt), 2);
  cfg.indirection_table.clear();
  EXPECT_EQ(rss_select_queue(cfg, RssHash{5, 2}), 2);
}

}  // namespace
}  // namespace wren
