#include "virtio/net/net_header.h"

#include <gtest/gtest.h>

#include <linux/virtio_config.h>

#include "virtio/net/net_features.h"

namespace wren {
namespace {

constexpr uint64_t kHostOffloads = feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_HOST_TSO4) |
                                   feature_bit(VIRTIO_NET_F_HOST_TSO6) | feature_bit(VIRTIO_NET_F_HOST_ECN) |
                                   feature_bit(VIRTIO_NET_F_HOST_UFO);

TEST(NetHeaderSize, FollowsFeatures) {
  EXPECT_EQ(net_header_size(0), 10u);
  EXPECT_EQ(net_header_size(feature_bit(VIRTIO_NET_F_MRG_RXBUF)), 12u);
  EXPECT_EQ(net_header_size(feature_bit(VIRTIO_F_VERSION_1)), 12u);
  EXPECT_EQ(net_header_size(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_MRG_RXBUF)), 12u);
  EXPECT_EQ(net_header_size(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_HASH_REPORT)), 20u);
}

TEST(NetHeaderCodec, LittleEndianLayout) {
  NetHeader h{0x01, 0x81, 0x0102, 0x0304, 0x0506, 0x0708, 0x090a, 0x0b0c0d0e, 0x0f10};
  uint8_t out[20];
  encode_net_header(h, out);
  const uint8_t expect[20] = {0x01, 0x81, 0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07,
                              0x0a, 0x09, 0x0e, 0x0d, 0x0c, 0x0b, 0x10, 0x0f, 0,    0};
  EXPECT_EQ(std::vector<uint8_t>(out, out + 20), std::vector<uint8_t>(expect, expect + 20));
  EXPECT_EQ(decode_net_header(out), h);

  // Shorter layouts carry fewer fields; the rest decode as zero.
  uint8_t legacy[10];
  encode_net_header(h, legacy);
  NetHeader partial = decode_net_header(legacy);
  EXPECT_EQ(partial.csum_offset, 0x0708);
  EXPECT_EQ(partial.num_buffers, 0);
  EXPECT_EQ(partial.hash_value, 0u);
  uint8_t mrg[12];
  encode_net_header(h, mrg);
  EXPECT_EQ(decode_net_header(mrg).num_buffers, 0x090a);
  EXPECT_EQ(decode_net_header(std::span<const uint8_t>()), NetHeader{});
}

NetHeader csum_header(uint16_t start, uint16_t offset) {
  NetHeader h;
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.csum_start = start;
  h.csum_offset = offset;
  return h;
}
NetHeader gso_header(uint8_t type, uint16_t gso_size = 1448, uint16_t hdr_len = 54) {
  NetHeader h = csum_header(34, 16);
  h.gso_type = type;
  h.gso_size = gso_size;
  h.hdr_len = hdr_len;
  return h;
}

TEST(TxHeader, AcceptsWhatWasNegotiated) {
  EXPECT_TRUE(check_tx_header(NetHeader{}, 0, 60).ok());
  EXPECT_TRUE(check_tx_header(csum_header(34, 16), kHostOffloads, 60).ok());
  EXPECT_TRUE(check_tx_header(csum_header(34, 24), kHostOffloads, 60).ok()) << "field ends exactly at the end";
  EXPECT_TRUE(check_tx_header(gso_header(VIRTIO_NET_HDR_GSO_TCPV4), kHostOffloads, 9000).ok());
  EXPECT_TRUE(check_tx_header(gso_header(VIRTIO_NET_HDR_GSO_TCPV6), kHostOffloads, 9000).ok());
  EXPECT_TRUE(check_tx_header(gso_header(VIRTIO_NET_HDR_GSO_UDP), kHostOffloads, 9000).ok());
  EXPECT_TRUE(check_tx_header(gso_header(VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN), kHostOffloads, 9000).ok());
}

TEST(TxHeader, RefusesWhatWasNotNegotiated) {
  struct Case {
    const char* name;
    NetHeader header;
    uint64_t features;
    size_t len;
    NetHeaderError error;
  };
  auto no = [](unsigned bit) { return kHostOffloads & ~feature_bit(bit); };
  const std::vector<Case> cases = {
      {"csum without CSUM", csum_header(34, 16), 0, 60, NetHeaderError::CsumNotNegotiated},
      {"csum one past", csum_header(34, 25), kHostOffloads, 60, NetHeaderError::CsumOutOfPacket},
      {"csum start past", csum_header(60, 0), kHostOffloads, 60, NetHeaderError::CsumOutOfPacket},
      {"csum huge", csum_header(0xffff, 0xffff), kHostOffloads, 60, NetHeaderError::CsumOutOfPacket},
      {"gso type 2", gso_header(2), kHostOffloads, 9000, NetHeaderError::UnknownGsoType},
      {"gso type 5", gso_header(5), kHostOffloads, 9000, NetHeaderError::UnknownGsoType},
      {"gso type 0x7f", gso_header(0x7f), kHostOffloads, 9000, NetHeaderError::UnknownGsoType},
      {"tso4", gso_header(VIRTIO_NET_HDR_GSO_TCPV4), no(VIRTIO_NET_F_HOST_TSO4), 9000,
       NetHeaderError::GsoNotNegotiated},
      {"tso6", gso_header(VIRTIO_NET_HDR_GSO_TCPV6), no(VIRTIO_NET_F_HOST_TSO6), 9000,
       NetHeaderError::GsoNotNegotiated},
      {"ufo", gso_header(VIRTIO_NET_HDR_GSO_UDP), no(VIRTIO_NET_F_HOST_UFO), 9000, NetHeaderError::GsoNotNegotiated},
      {"ecn", gso_header(VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN), no(VIRTIO_NET_F_HOST_ECN), 9000,
       NetHeaderError::GsoNotNegotiated},
      {"ecn without gso",
       [] {
         NetHeader h;
         h.gso_type = VIRTIO_NET_HDR_GSO_ECN;
         return h;
       }(),
       kHostOffloads, 60, NetHeaderError::GsoNotNegotiated},
      {"gso without csum",
       [] {
         NetHeader h = gso_header(VIRTIO_NET_HDR_GSO_TCPV4);
         h.flags = 0;
         return h;
       }(),
       kHostOffloads, 9000, NetHeaderError::GsoWithoutCsum},
      {"gso size 0", gso_header(VIRTIO_NET_HDR_GSO_TCPV4, 0), kHostOffloads, 9000, NetHeaderError::GsoSizeZero},
      {"hdr_len beyond packet", gso_header(VIRTIO_NET_HDR_GSO_TCPV4, 1448, 9001), kHostOffloads, 9000,
       NetHeaderError::HdrLenBeyondPacket},
  };
  for (const auto& c : cases) {
    const auto r = check_tx_header(c.header, c.features, c.len);
    EXPECT_EQ(to_string(r.error), to_string(c.error)) << c.name;
  }
}

TEST(TxHeader, SanitizesFieldsTheDriverMustNotSet) {
  NetHeader h = csum_header(34, 16);
  h.flags |= VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_RSC_INFO | 0x80;
  h.hdr_len = 0xffff;  // only a hint without GSO: never passed on
  h.gso_size = 77;
  h.num_buffers = 9;
  h.hash_value = 1;
  h.hash_report = 2;
  const auto r = check_tx_header(h, kHostOffloads, 60);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.header, csum_header(34, 16));
}

// An IPv4/UDP packet (Ethernet header included) with a partial checksum as
// the kernel leaves it: the UDP checksum field holds the pseudo-header sum.
std::vector<uint8_t> partial_udp_packet() {
  std::vector<uint8_t> p = {// Ethernet
                            0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 0x08, 0x00,
                            // IPv4: len 33, proto UDP, 10.0.0.1 -> 10.0.0.2
                            0x45, 0x00, 0x00, 0x21, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1, 10, 0,
                            0, 2,
                            // UDP: 1234 -> 5678, len 13, checksum (filled below)
                            0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0d, 0x00, 0x00,
                            // payload "hello"
                            'h', 'e', 'l', 'l', 'o'};
  const uint8_t pseudo[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 13};
  const uint16_t partial = ones_complement_sum(pseudo);
  p[40] = static_cast<uint8_t>(partial >> 8);
  p[41] = static_cast<uint8_t>(partial);
  return p;
}

bool udp_checksum_verifies(const std::vector<uint8_t>& p) {
  const uint8_t pseudo[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 13};
  const uint16_t pseudo_sum = ones_complement_sum(pseudo);
  return ones_complement_sum(std::span(p).subspan(34), pseudo_sum) == 0xffff;
}

TEST(Checksum, Rfc1071Example) {
  const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ones_complement_sum(bytes), 0xddf2);
  const uint8_t odd[] = {0x01};
  EXPECT_EQ(ones_complement_sum(odd), 0x0100);
}

TEST(Checksum, FinishesAPartialChecksum) {
  auto p = partial_udp_packet();
  EXPECT_FALSE(udp_checksum_verifies(p));
  ASSERT_TRUE(finish_checksum(p, 34, 6));
  EXPECT_TRUE(udp_checksum_verifies(p));
  auto q = partial_udp_packet();
  EXPECT_FALSE(finish_checksum(q, 34, static_cast<uint16_t>(q.size() - 34 - 1)));
  EXPECT_EQ(q, partial_udp_packet()) << "untouched when the field is outside";
}

TEST(Checksum, ZeroResultIsStoredAsAllOnes) {
  // Make the UDP checksum come out as 0: add the finished checksum into a
  // payload word, which brings the segment's sum to 0xffff.
  auto p = partial_udp_packet();
  auto finished = p;
  ASSERT_TRUE(finish_checksum(finished, 34, 6));
  uint32_t word = (uint32_t{p[42]} << 8 | p[43]) + (uint32_t{finished[40]} << 8 | finished[41]);
  word = (word & 0xffff) + (word >> 16);
  p[42] = static_cast<uint8_t>(word >> 8);
  p[43] = static_cast<uint8_t>(word);
  ASSERT_TRUE(finish_checksum(p, 34, 6));
  EXPECT_EQ(p[40], 0xff);
  EXPECT_EQ(p[41], 0xff) << "0 would mean no checksum (RFC 768), and is invalid over IPv6";
  EXPECT_TRUE(udp_checksum_verifies(p));
}

TEST(RxHeader, PassesOffloadsTheGuestEnabled) {
  const uint64_t guest = kGuestOffloadFeatures;
  auto p = partial_udp_packet();
  NetHeader h = csum_header(34, 6);
  h.num_buffers = 5;
  auto r = prepare_rx_header(h, guest, p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.header, csum_header(34, 6));
  EXPECT_EQ(p, partial_udp_packet()) << "the guest completes the checksum itself";

  NetHeader valid;
  valid.flags = VIRTIO_NET_HDR_F_DATA_VALID;
  EXPECT_EQ(prepare_rx_header(valid, guest, p).header.flags, VIRTIO_NET_HDR_F_DATA_VALID);

  std::vector<uint8_t> big(9000);
  EXPECT_TRUE(prepare_rx_header(gso_header(VIRTIO_NET_HDR_GSO_TCPV4), guest, big).ok());
  EXPECT_EQ(
      prepare_rx_header(gso_header(VIRTIO_NET_HDR_GSO_TCPV4), guest & ~feature_bit(VIRTIO_NET_F_GUEST_TSO4), big).error,
      NetHeaderError::GsoNotNegotiated);
  EXPECT_EQ(
      prepare_rx_header(gso_header(VIRTIO_NET_HDR_GSO_UDP), guest & ~feature_bit(VIRTIO_NET_F_GUEST_UFO), big).error,
      NetHeaderError::GsoNotNegotiated);
}

TEST(RxHeader, CompletesChecksumsWithoutGuestCsum) {
  auto p = partial_udp_packet();
  const auto r = prepare_rx_header(csum_header(34, 6), 0, p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.header, NetHeader{}) << "flags must be zero without GUEST_CSUM";
  EXPECT_TRUE(udp_checksum_verifies(p));

  NetHeader valid;
  valid.flags = VIRTIO_NET_HDR_F_DATA_VALID;
  EXPECT_EQ(prepare_rx_header(valid, 0, p).header, NetHeader{});

  auto q = partial_udp_packet();
  EXPECT_EQ(prepare_rx_header(csum_header(34, 200), 0, q).error, NetHeaderError::CsumOutOfPacket);
  std::vector<uint8_t> big(9000);
  // TSO enabled without CSUM (a driver may switch CSUM off alone): a GSO
  // packet cannot be delivered.
  EXPECT_FALSE(prepare_rx_header(gso_header(VIRTIO_NET_HDR_GSO_TCPV4), feature_bit(VIRTIO_NET_F_GUEST_TSO4), big).ok());
}

}  // namespace
}  // namespace wren
