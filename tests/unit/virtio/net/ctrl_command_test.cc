// Every control-queue class and command, and every malformed variant: a
// refused command acks ERR and changes nothing.
#include "virtio/net/ctrl_command.h"

#include <gtest/gtest.h>

#include <linux/virtio_config.h>

#include <random>

#include "unit/virtio/net/frames.h"

namespace wren {
namespace {

using test::mac;
using Bytes = std::vector<uint8_t>;

const MacAddress kOwn = mac("52:54:00:12:34:56");
const MacAddress kUni1 = mac("52:54:00:00:00:01");
const MacAddress kUni2 = mac("02:00:00:00:00:02");
const MacAddress kMulti1 = mac("01:00:5e:00:00:01");
const MacAddress kMulti2 = mac("33:33:ff:12:34:56");

constexpr uint64_t kAllFeatures =
    feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) | feature_bit(VIRTIO_NET_F_CTRL_RX_EXTRA) |
    feature_bit(VIRTIO_NET_F_CTRL_VLAN) | feature_bit(VIRTIO_NET_F_GUEST_ANNOUNCE) | feature_bit(VIRTIO_NET_F_MQ) |
    feature_bit(VIRTIO_NET_F_CTRL_MAC_ADDR) | feature_bit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |
    feature_bit(VIRTIO_NET_F_RSS) | feature_bit(VIRTIO_NET_F_HASH_REPORT) | kGuestOffloadFeatures |
    feature_bit(VIRTIO_F_VERSION_1);

constexpr NetControlLimits kLimits{4, 40, 128, kRssSupportedHashTypes};

void le16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void le32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void le64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_macs(Bytes& b, const std::vector<MacAddress>& macs) {
  for (const auto& m : macs) b.insert(b.end(), m.bytes.begin(), m.bytes.end());
}
Bytes mac_table(const std::vector<MacAddress>& uni, const std::vector<MacAddress>& multi) {
  Bytes b;
  le32(b, static_cast<uint32_t>(uni.size()));
  put_macs(b, uni);
  le32(b, static_cast<uint32_t>(multi.size()));
  put_macs(b, multi);
  return b;
}
Bytes key_bytes(size_t n) {
  Bytes k(n);
  for (size_t i = 0; i < n; ++i) k[i] = static_cast<uint8_t>(0x6d + i * 7);
  return k;
}
Bytes rss_config(uint32_t types, const std::vector<uint16_t>& table, uint16_t unclassified, uint16_t max_tx_vq,
                 const Bytes& key, std::optional<uint16_t> mask = std::nullopt) {
  Bytes b;
  le32(b, types);
  le16(b, mask.value_or(static_cast<uint16_t>(table.size() - 1)));
  le16(b, unclassified);
  for (uint16_t q : table) le16(b, q);
  le16(b, max_tx_vq);
  b.push_back(static_cast<uint8_t>(key.size()));
  b.insert(b.end(), key.begin(), key.end());
  return b;
}
Bytes hash_config(uint32_t types, const Bytes& key) {
  Bytes b;
  le32(b, types);
  for (int i = 0; i < 4; ++i) le16(b, 0);
  b.push_back(static_cast<uint8_t>(key.size()));
  b.insert(b.end(), key.begin(), key.end());
  return b;
}

class CtrlTest : public ::testing::Test {
 protected:
  CtrlOutcome run(uint8_t cls, uint8_t cmd, const Bytes& data, uint64_t features = kAllFeatures) {
    return apply_ctrl_command(features, kLimits, cls, cmd, data, state);
  }
  // Runs and, on success, adopts the new state.
  CtrlOutcome commit(uint8_t cls, uint8_t cmd, const Bytes& data, uint64_t features = kAllFeatures) {
    auto out = run(cls, cmd, data, features);
    EXPECT_TRUE(out.ok()) << to_string(out.error);
    if (out.ok()) state = out.state;
    return out;
  }
  // A refused command: ERR, the expected reason, nothing changed.
  void expect_refused(uint8_t cls, uint8_t cmd, const Bytes& data, CtrlError error, uint64_t features = kAllFeatures,
                      const std::string& what = "") {
    const auto out = run(cls, cmd, data, features);
    EXPECT_EQ(out.ack, VIRTIO_NET_ERR) << what;
    EXPECT_EQ(to_string(out.error), to_string(error)) << what;
    EXPECT_EQ(out.state, state) << what;
    EXPECT_FALSE(out.rx_filter_changed || out.mac_changed || out.queue_pairs_changed || out.offloads_changed ||
                 out.rss_changed || out.announce_acked)
        << what;
  }

  NetControlState state = NetControlState::initial(kOwn, kAllFeatures);
};

uint64_t without(unsigned bit) { return kAllFeatures & ~feature_bit(bit); }

// ---- initial state -------------------------------------------------------------

TEST(NetControlStateInitial, FollowsFeatures) {
  auto s = NetControlState::initial(kOwn, kAllFeatures);
  EXPECT_TRUE(s.rx_filter.promisc);
  EXPECT_TRUE(s.rx_filter.vlan_filtering);
  EXPECT_EQ(s.rx_filter.mac, kOwn);
  EXPECT_EQ(s.queue_pairs, 1);
  EXPECT_EQ(s.guest_offloads, kGuestOffloadFeatures);
  EXPECT_FALSE(s.rss.enabled);
  auto plain = NetControlState::initial(kOwn, feature_bit(VIRTIO_NET_F_GUEST_CSUM));
  EXPECT_FALSE(plain.rx_filter.vlan_filtering);
  EXPECT_EQ(plain.guest_offloads, feature_bit(VIRTIO_NET_F_GUEST_CSUM));
}

// ---- CTRL_RX ---------------------------------------------------------------------

TEST_F(CtrlTest, RxModeCommandsSetTheirFlag) {
  const std::vector<std::pair<uint8_t, bool RxFilter::*>> commands = {
      {VIRTIO_NET_CTRL_RX_PROMISC, &RxFilter::promisc}, {VIRTIO_NET_CTRL_RX_ALLMULTI, &RxFilter::allmulti},
      {VIRTIO_NET_CTRL_RX_ALLUNI, &RxFilter::alluni},   {VIRTIO_NET_CTRL_RX_NOMULTI, &RxFilter::nomulti},
      {VIRTIO_NET_CTRL_RX_NOUNI, &RxFilter::nouni},     {VIRTIO_NET_CTRL_RX_NOBCAST, &RxFilter::nobcast},
  };
  for (const auto& [cmd, flag] : commands) {
    for (uint8_t value : {1, 0, 2, 0xff, 0}) {
      const bool before = state.rx_filter.*flag;
      const auto out = commit(VIRTIO_NET_CTRL_RX, cmd, {value});
      EXPECT_EQ(state.rx_filter.*flag, value != 0) << int(cmd) << "/" << int(value);
      EXPECT_EQ(out.rx_filter_changed, before != (value != 0));
      EXPECT_FALSE(out.mac_changed);
    }
  }
}

TEST_F(CtrlTest, RxModeNeedsItsFeatures) {
  for (uint8_t cmd = VIRTIO_NET_CTRL_RX_PROMISC; cmd <= VIRTIO_NET_CTRL_RX_NOBCAST; ++cmd)
    expect_refused(VIRTIO_NET_CTRL_RX, cmd, {0}, CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_CTRL_RX),
                   "cmd " + std::to_string(cmd));
  // PROMISC and ALLMULTI need only CTRL_RX; the rest need CTRL_RX_EXTRA.
  EXPECT_TRUE(run(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, {0}, without(VIRTIO_NET_F_CTRL_RX_EXTRA)).ok());
  EXPECT_TRUE(run(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, {1}, without(VIRTIO_NET_F_CTRL_RX_EXTRA)).ok());
  for (uint8_t cmd = VIRTIO_NET_CTRL_RX_ALLUNI; cmd <= VIRTIO_NET_CTRL_RX_NOBCAST; ++cmd)
    expect_refused(VIRTIO_NET_CTRL_RX, cmd, {1}, CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_CTRL_RX_EXTRA),
                   "cmd " + std::to_string(cmd));
}

TEST_F(CtrlTest, RxModeDataMustBeOneByte) {
  for (uint8_t cmd = VIRTIO_NET_CTRL_RX_PROMISC; cmd <= VIRTIO_NET_CTRL_RX_NOBCAST; ++cmd) {
    expect_refused(VIRTIO_NET_CTRL_RX, cmd, {}, CtrlError::BadLength);
    expect_refused(VIRTIO_NET_CTRL_RX, cmd, {0, 0}, CtrlError::BadLength);
    expect_refused(VIRTIO_NET_CTRL_RX, cmd, {1, 1}, CtrlError::BadLength);
  }
}

TEST_F(CtrlTest, RxModeUnknownCommand) {
  expect_refused(VIRTIO_NET_CTRL_RX, 6, {1}, CtrlError::UnknownCommand);
  expect_refused(VIRTIO_NET_CTRL_RX, 0xff, {1}, CtrlError::UnknownCommand);
}

// ---- CTRL_MAC: MAC_TABLE_SET -------------------------------------------------------

TEST_F(CtrlTest, MacTableSetInstallsBothClasses) {
  auto out = commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
                    mac_table({kUni1, kUni2}, {kMulti1, kMulti2, MacAddress::broadcast()}));
  EXPECT_TRUE(out.rx_filter_changed);
  EXPECT_FALSE(out.mac_changed);
  EXPECT_EQ(state.rx_filter.unicast, (std::vector<MacAddress>{kUni1, kUni2}));
  EXPECT_EQ(state.rx_filter.multicast, (std::vector<MacAddress>{kMulti1, kMulti2, MacAddress::broadcast()}));
  EXPECT_FALSE(state.rx_filter.uni_overflow);
  EXPECT_FALSE(state.rx_filter.multi_overflow);
  // A new table replaces the old one; an empty one clears it.
  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table({kUni2}, {}));
  EXPECT_EQ(state.rx_filter.unicast, (std::vector<MacAddress>{kUni2}));
  EXPECT_TRUE(state.rx_filter.multicast.empty());
  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table({}, {}));
  EXPECT_TRUE(state.rx_filter.unicast.empty());
}

TEST_F(CtrlTest, MacTableOverflowIsNotAnError) {
  const std::vector<MacAddress> uni64(64, kUni1), uni65(65, kUni1), uni60(60, kUni1);
  const std::vector<MacAddress> multi4(4, kMulti1), multi5(5, kMulti1), multi70(70, kMulti1);

  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table(uni64, {}));
  EXPECT_EQ(state.rx_filter.unicast.size(), 64u);
  EXPECT_FALSE(state.rx_filter.uni_overflow);

  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table(uni65, multi4));
  EXPECT_TRUE(state.rx_filter.uni_overflow);
  EXPECT_TRUE(state.rx_filter.unicast.empty());
  EXPECT_FALSE(state.rx_filter.multi_overflow);
  EXPECT_EQ(state.rx_filter.multicast.size(), 4u);

  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table(uni60, multi4));
  EXPECT_FALSE(state.rx_filter.multi_overflow) << "60 + 4 fits exactly";
  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table(uni60, multi5));
  EXPECT_FALSE(state.rx_filter.uni_overflow);
  EXPECT_EQ(state.rx_filter.unicast.size(), 60u);
  EXPECT_TRUE(state.rx_filter.multi_overflow);
  EXPECT_TRUE(state.rx_filter.multicast.empty());

  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table({}, multi70));
  EXPECT_TRUE(state.rx_filter.multi_overflow);
  EXPECT_EQ(state.rx_filter.validate(), std::nullopt);
  // A later table that fits clears the overflow flags.
  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table({kUni1}, {kMulti1}));
  EXPECT_FALSE(state.rx_filter.uni_overflow);
  EXPECT_FALSE(state.rx_filter.multi_overflow);
}

TEST_F(CtrlTest, MacTableMalformedVariantsAreRefused) {
  commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, mac_table({kUni1}, {kMulti1}));  // something to keep
  const uint8_t cls = VIRTIO_NET_CTRL_MAC, cmd = VIRTIO_NET_CTRL_MAC_TABLE_SET;

  expect_refused(cls, cmd, {}, CtrlError::BadLength, kAllFeatures, "empty");
  expect_refused(cls, cmd, {1, 0, 0}, CtrlError::BadLength, kAllFeatures, "short first count");
  Bytes only_unicast;
  le32(only_unicast, 1);
  put_macs(only_unicast, {kUni1});
  expect_refused(cls, cmd, only_unicast, CtrlError::BadLength, kAllFeatures, "second block missing");
  auto short_second = only_unicast;
  short_second.push_back(0);
  expect_refused(cls, cmd, short_second, CtrlError::BadLength, kAllFeatures, "second count truncated");

  auto trailing = mac_table({kUni1}, {kMulti1});
  trailing.push_back(0);
  expect_refused(cls, cmd, trailing, CtrlError::BadLength, kAllFeatures, "trailing byte");

  // Counts that do not fit the bytes present, including counts near 2^32
  // whose 32-bit product with 6 would wrap to something small.
  for (uint32_t count : {2u, 3u, 0x2aaaaaabu, 0x80000000u, 0xfffffffeu, 0xffffffffu}) {
    Bytes uni_count;
    le32(uni_count, count);
    put_macs(uni_count, {kUni1});
    le32(uni_count, 0);
    expect_refused(cls, cmd, uni_count, CtrlError::MacCountExceedsData, kAllFeatures,
                   "unicast count " + std::to_string(count));
    Bytes multi_count;
    le32(multi_count, 0);
    le32(multi_count, count);
    put_macs(multi_count, {kMulti1});
    expect_refused(cls, cmd, multi_count, CtrlError::MacCountExceedsData, kAllFeatures,
                   "multicast count " + std::to_string(count));
  }
  // 0x2aaaaaab * 6 == 2 (mod 2^32): with exactly 2 bytes after the count a
  // 32-bit check would pass.
  Bytes wrap;
  le32(wrap, 0x2aaaaaabu);
  wrap.push_back(0);
  wrap.push_back(0);
  expect_refused(cls, cmd, wrap, CtrlError::MacCountExceedsData, kAllFeatures, "wrapping count");

  expect_refused(cls, cmd, mac_table({kUni1, kMulti1}, {}), CtrlError::MulticastInUnicastTable);
  expect_refused(cls, cmd, mac_table({MacAddress::broadcast()}, {}), CtrlError::MulticastInUnicastTable);
  expect_refused(cls, cmd, mac_table({}, {kMulti1, kUni2}), CtrlError::UnicastInMulticastTable);
  // Entries past the capacity are checked too.
  std::vector<MacAddress> many(70, kUni1);
  many[69] = kMulti2;
  expect_refused(cls, cmd, mac_table(many, {}), CtrlError::MulticastInUnicastTable, kAllFeatures, "overflowed");

  expect_refused(cls, cmd, mac_table({kUni2}, {}), CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_CTRL_RX));
  EXPECT_EQ(state.rx_filter.unicast, (std::vector<MacAddress>{kUni1}));
}

// ---- CTRL_MAC: MAC_ADDR_SET ----------------------------------------------------------

TEST_F(CtrlTest, MacAddrSetChangesThePrimaryMac) {
  const Bytes data(kUni2.bytes.begin(), kUni2.bytes.end());
  const auto out = commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, data);
  EXPECT_EQ(state.rx_filter.mac, kUni2);
  EXPECT_TRUE(out.mac_changed);
  EXPECT_TRUE(out.rx_filter_changed);
  // The same address again: OK, nothing changed.
  const auto again = commit(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, data);
  EXPECT_FALSE(again.mac_changed);
}

TEST_F(CtrlTest, MacAddrSetMalformedVariantsAreRefused) {
  const uint8_t cls = VIRTIO_NET_CTRL_MAC, cmd = VIRTIO_NET_CTRL_MAC_ADDR_SET;
  Bytes six(kUni2.bytes.begin(), kUni2.bytes.end());
  expect_refused(cls, cmd, Bytes(six.begin(), six.begin() + 5), CtrlError::BadLength);
  auto seven = six;
  seven.push_back(0);
  expect_refused(cls, cmd, seven, CtrlError::BadLength);
  expect_refused(cls, cmd, {}, CtrlError::BadLength);
  expect_refused(cls, cmd, Bytes(kMulti1.bytes.begin(), kMulti1.bytes.end()), CtrlError::InvalidMacAddress);
  expect_refused(cls, cmd, Bytes(6, 0xff), CtrlError::InvalidMacAddress);
  expect_refused(cls, cmd, Bytes(6, 0), CtrlError::InvalidMacAddress);
  expect_refused(cls, cmd, six, CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_CTRL_MAC_ADDR));
  expect_refused(cls, 2, six, CtrlError::UnknownCommand);
}

// ---- CTRL_VLAN -------------------------------------------------------------------

TEST_F(CtrlTest, VlanAddAndDel) {
  for (uint16_t vid : {0, 1, 100, 4095}) {
    Bytes b;
    le16(b, vid);
    auto out = commit(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, b);
    EXPECT_TRUE(out.rx_filter_changed);
    EXPECT_TRUE(state.rx_filter.vlan_allowed(vid)) << vid;
  }
  Bytes b;
  le16(b, 100);
  commit(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, b);
  EXPECT_EQ(state.rx_filter.vlan_ids(), (std::vector<uint16_t>{0, 1, 4095}));
  // Deleting an absent id is fine (and changes nothing).
  EXPECT_FALSE(commit(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, b).rx_filter_changed);
}

TEST_F(CtrlTest, VlanMalformedVariantsAreRefused) {
  for (uint8_t cmd : {VIRTIO_NET_CTRL_VLAN_ADD, VIRTIO_NET_CTRL_VLAN_DEL}) {
    for (uint16_t vid : {4096, 4097, 0x8000, 0xffff}) {
      Bytes b;
      le16(b, vid);
      expect_refused(VIRTIO_NET_CTRL_VLAN, cmd, b, CtrlError::VlanIdOutOfRange, kAllFeatures, std::to_string(vid));
    }
    expect_refused(VIRTIO_NET_CTRL_VLAN, cmd, {5}, CtrlError::BadLength);
    expect_refused(VIRTIO_NET_CTRL_VLAN, cmd, {5, 0, 0}, CtrlError::BadLength);
    expect_refused(VIRTIO_NET_CTRL_VLAN, cmd, {}, CtrlError::BadLength);
    expect_refused(VIRTIO_NET_CTRL_VLAN, cmd, {5, 0}, CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_CTRL_VLAN));
  }
  expect_refused(VIRTIO_NET_CTRL_VLAN, 2, {5, 0}, CtrlError::UnknownCommand);
}

// ---- CTRL_ANNOUNCE ---------------------------------------------------------------

TEST_F(CtrlTest, AnnounceAckClearsThePendingBit) {
  state.announce_pending = true;
  const auto out = commit(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, {});
  EXPECT_FALSE(state.announce_pending);
  EXPECT_TRUE(out.announce_acked);
  EXPECT_FALSE(out.rx_filter_changed);
  // An ACK with nothing pending is harmless.
  EXPECT_TRUE(commit(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, {}).ok());
}

TEST_F(CtrlTest, AnnounceMalformedVariantsAreRefused) {
  state.announce_pending = true;
  expect_refused(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, {0}, CtrlError::BadLength);
  expect_refused(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, {}, CtrlError::FeatureNotNegotiated,
                 without(VIRTIO_NET_F_GUEST_ANNOUNCE));
  expect_refused(VIRTIO_NET_CTRL_ANNOUNCE, 1, {}, CtrlError::UnknownCommand);
  EXPECT_TRUE(state.announce_pending);
}

// ---- CTRL_MQ: VQ_PAIRS_SET --------------------------------------------------------

TEST_F(CtrlTest, QueuePairsSetWithinLimits) {
  for (uint16_t pairs : {4, 1, 2}) {
    Bytes b;
    le16(b, pairs);
    const uint16_t before = state.queue_pairs;
    auto out = commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b);
    EXPECT_EQ(state.queue_pairs, pairs);
    EXPECT_EQ(out.queue_pairs_changed, before != pairs);
  }
}

TEST_F(CtrlTest, QueuePairsSetMalformedVariantsAreRefused) {
  const uint8_t cls = VIRTIO_NET_CTRL_MQ, cmd = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
  for (uint16_t pairs : {0, 5, 0x8000, 0x8001, 0xffff}) {
    Bytes b;
    le16(b, pairs);
    expect_refused(cls, cmd, b, CtrlError::QueuePairsOutOfRange, kAllFeatures, std::to_string(pairs));
  }
  expect_refused(cls, cmd, {2}, CtrlError::BadLength);
  expect_refused(cls, cmd, {2, 0, 0}, CtrlError::BadLength);
  expect_refused(cls, cmd, {2, 0}, CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_MQ));
  expect_refused(cls, 3, {2, 0}, CtrlError::UnknownCommand);
}

// ---- CTRL_MQ: RSS_CONFIG / HASH_CONFIG ---------------------------------------------

TEST_F(CtrlTest, RssConfigInstallsSteering) {
  const uint32_t types = VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4;
  const std::vector<uint16_t> table = {0, 1, 2, 3, 0, 1, 2, 3};
  const auto out =
      commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, rss_config(types, table, 2, 3, key_bytes(40)));
  EXPECT_TRUE(out.rss_changed);
  EXPECT_TRUE(out.queue_pairs_changed);
  EXPECT_TRUE(state.rss.enabled);
  EXPECT_TRUE(state.rss.steering);
  EXPECT_EQ(state.rss.hash_types, types);
  EXPECT_EQ(state.rss.indirection_table, table);
  EXPECT_EQ(state.rss.unclassified_queue, 2);
  EXPECT_EQ(state.rss.key, key_bytes(40));
  EXPECT_EQ(state.queue_pairs, 3) << "max_tx_vq sets the active queue pairs";
  EXPECT_EQ(state.validate(kAllFeatures, kLimits), std::nullopt);

  // VQ_PAIRS_SET switches back to automatic steering.
  Bytes b;
  le16(b, 2);
  commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b);
  EXPECT_FALSE(state.rss.enabled);
  EXPECT_EQ(state.rss, RssConfig{});
}

TEST_F(CtrlTest, RssConfigWithoutTypesOrKeyDisablesRss) {
  commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
         rss_config(VIRTIO_NET_RSS_HASH_TYPE_IPv4, {0, 1}, 0, 2, key_bytes(40)));
  ASSERT_TRUE(state.rss.enabled);
  commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, rss_config(0, {0}, 0, 4, {}));
  EXPECT_EQ(state.rss, RssConfig{});
  EXPECT_EQ(state.queue_pairs, 4);
  // A single-entry table and a shorter key are fine.
  commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
         rss_config(VIRTIO_NET_RSS_HASH_TYPE_UDPv6, {3}, 1, 1, key_bytes(16)));
  EXPECT_EQ(state.rss.indirection_table.size(), 1u);
}

TEST_F(CtrlTest, RssConfigMalformedVariantsAreRefused) {
  const uint8_t cls = VIRTIO_NET_CTRL_MQ, cmd = VIRTIO_NET_CTRL_MQ_RSS_CONFIG;
  const uint32_t types = VIRTIO_NET_RSS_HASH_TYPE_TCPv4;
  const auto key = key_bytes(40);
  const std::vector<uint16_t> table4 = {0, 1, 2, 3};

  expect_refused(cls, cmd, rss_config(types, {0, 1, 2}, 0, 1, key), CtrlError::RssTableLength, kAllFeatures, "3");
  expect_refused(cls, cmd, rss_config(types, std::vector<uint16_t>(256, 0), 0, 1, key), CtrlError::RssTableLength,
                 kAllFeatures, "256 > 128");
  expect_refused(cls, cmd, rss_config(types, table4, 0, 1, key, 0xffff), CtrlError::RssTableLength, kAllFeatures,
                 "mask 0xffff");
  expect_refused(cls, cmd, rss_config(types, table4, 0, 1, key, 7), CtrlError::BadLength, kAllFeatures,
                 "mask says 8, data holds 4");
  expect_refused(cls, cmd, rss_config(types, {0, 1, 4, 3}, 0, 1, key), CtrlError::RssQueueOutOfRange);
  expect_refused(cls, cmd, rss_config(types, table4, 4, 1, key), CtrlError::RssQueueOutOfRange);
  expect_refused(cls, cmd, rss_config(types, table4, 0, 0, key), CtrlError::QueuePairsOutOfRange);
  expect_refused(cls, cmd, rss_config(types, table4, 0, 5, key), CtrlError::QueuePairsOutOfRange);
  expect_refused(cls, cmd, rss_config(types, table4, 0, 1, key_bytes(41)), CtrlError::RssKeyTooLong);
  expect_refused(cls, cmd, rss_config(types, table4, 0, 1, {}), CtrlError::RssKeyMissing);
  expect_refused(cls, cmd, rss_config(VIRTIO_NET_RSS_HASH_TYPE_IP_EX, table4, 0, 1, key), CtrlError::RssHashTypes);
  expect_refused(cls, cmd, rss_config(1u << 31, table4, 0, 1, key), CtrlError::RssHashTypes);

  // Truncated anywhere, or a trailing byte: wrong length.
  const auto good = rss_config(types, table4, 0, 1, key);
  ASSERT_TRUE(run(cls, cmd, good).ok());
  for (size_t cut = 0; cut < good.size(); ++cut)
    expect_refused(cls, cmd, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)), CtrlError::BadLength,
                   kAllFeatures, "cut at " + std::to_string(cut));
  auto trailing = good;
  trailing.push_back(0);
  expect_refused(cls, cmd, trailing, CtrlError::BadLength, kAllFeatures, "trailing");

  expect_refused(cls, cmd, good, CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_RSS));
}

TEST_F(CtrlTest, HashConfigInstallsHashReportingOnly) {
  Bytes b;
  le16(b, 3);
  commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b);
  const uint32_t types = VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv4;
  const auto out = commit(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, hash_config(types, key_bytes(40)));
  EXPECT_TRUE(out.rss_changed);
  EXPECT_FALSE(out.queue_pairs_changed);
  EXPECT_TRUE(state.rss.enabled);
  EXPECT_FALSE(state.rss.steering);
  EXPECT_TRUE(state.rss.indirection_table.empty());
  EXPECT_EQ(state.queue_pairs, 3);
  EXPECT_EQ(state.validate(kAllFeatures, kLimits), std::nullopt);
}

TEST_F(CtrlTest, HashConfigMalformedVariantsAreRefused) {
  const uint8_t cls = VIRTIO_NET_CTRL_MQ, cmd = VIRTIO_NET_CTRL_MQ_HASH_CONFIG;
  const auto good = hash_config(VIRTIO_NET_RSS_HASH_TYPE_IPv4, key_bytes(40));
  for (size_t cut = 0; cut < good.size(); ++cut)
    expect_refused(cls, cmd, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)), CtrlError::BadLength,
                   kAllFeatures, "cut at " + std::to_string(cut));
  expect_refused(cls, cmd, hash_config(VIRTIO_NET_RSS_HASH_TYPE_IPv4, key_bytes(41)), CtrlError::RssKeyTooLong);
  expect_refused(cls, cmd, hash_config(VIRTIO_NET_RSS_HASH_TYPE_IPv4, {}), CtrlError::RssKeyMissing);
  expect_refused(cls, cmd, hash_config(VIRTIO_NET_RSS_HASH_TYPE_UDP_EX, key_bytes(40)), CtrlError::RssHashTypes);
  expect_refused(cls, cmd, good, CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_HASH_REPORT));
}

// ---- CTRL_GUEST_OFFLOADS ------------------------------------------------------------

TEST_F(CtrlTest, GuestOffloadsSetSubset) {
  Bytes b;
  le64(b, feature_bit(VIRTIO_NET_F_GUEST_CSUM));
  auto out = commit(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, b);
  EXPECT_TRUE(out.offloads_changed);
  EXPECT_EQ(state.guest_offloads, feature_bit(VIRTIO_NET_F_GUEST_CSUM));
  Bytes zero;
  le64(zero, 0);
  commit(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, zero);
  EXPECT_EQ(state.guest_offloads, 0u);
}

TEST_F(CtrlTest, GuestOffloadsMalformedVariantsAreRefused) {
  const uint8_t cls = VIRTIO_NET_CTRL_GUEST_OFFLOADS, cmd = VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET;
  const uint64_t no_tso6 = without(VIRTIO_NET_F_GUEST_TSO6);
  state = NetControlState::initial(kOwn, no_tso6);
  for (uint64_t bad : {feature_bit(VIRTIO_NET_F_GUEST_TSO6), feature_bit(VIRTIO_NET_F_CSUM),
                       feature_bit(VIRTIO_NET_F_CTRL_VQ), uint64_t{1} << 63, ~uint64_t{0}}) {
    Bytes b;
    le64(b, bad | feature_bit(VIRTIO_NET_F_GUEST_CSUM));
    expect_refused(cls, cmd, b, CtrlError::OffloadsNotNegotiated, no_tso6, std::to_string(bad));
  }
  expect_refused(cls, cmd, Bytes(7, 0), CtrlError::BadLength, no_tso6);
  expect_refused(cls, cmd, Bytes(9, 0), CtrlError::BadLength, no_tso6);
  expect_refused(cls, cmd, Bytes(8, 0), CtrlError::FeatureNotNegotiated, without(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
  expect_refused(cls, 1, Bytes(8, 0), CtrlError::UnknownCommand, no_tso6);
}

// ---- classes -------------------------------------------------------------------

TEST_F(CtrlTest, UnknownAndUnofferedClasses) {
  expect_refused(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, Bytes(8, 0),
                 CtrlError::FeatureNotNegotiated);
  expect_refused(7, 0, {}, CtrlError::UnknownClass);
  expect_refused(0xff, 0xff, {1}, CtrlError::UnknownClass);
  expect_refused(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, {0}, CtrlError::FeatureNotNegotiated,
                 without(VIRTIO_NET_F_CTRL_VQ));
}

// ---- invariants over random commands ----------------------------------------------

// Random (mostly malformed) commands: a refusal never changes the state, and
// every state reached through accepted commands passes validate() (so it can
// be migrated and restored).
TEST_F(CtrlTest, RandomCommandsKeepTheStateValid) {
  std::mt19937 rng(1234);
  const std::vector<Bytes> seeds = {mac_table({kUni1}, {kMulti1}),
                                    rss_config(VIRTIO_NET_RSS_HASH_TYPE_TCPv4, {0, 1, 2, 3}, 1, 2, key_bytes(40)),
                                    hash_config(VIRTIO_NET_RSS_HASH_TYPE_IPv4, key_bytes(40)),
                                    Bytes{1},
                                    Bytes{0},
                                    Bytes{5, 0},
                                    Bytes(8, 0),
                                    Bytes(kUni2.bytes.begin(), kUni2.bytes.end())};
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint8_t cls = static_cast<uint8_t>(rng() % 8);
    const uint8_t cmd = static_cast<uint8_t>(rng() % 7);
    Bytes data = seeds[rng() % seeds.size()];
    const int mutations = static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations && !data.empty(); ++m) data[rng() % data.size()] = static_cast<uint8_t>(rng());
    if (rng() % 8 == 0) data.resize(rng() % (data.size() + 2));
    const uint64_t features = kAllFeatures & ~(rng() % 4 == 0 ? feature_bit(rng() % 24) : 0);
    const auto before = state;
    const auto out = apply_ctrl_command(features, kLimits, cls, cmd, data, state);
    if (!out.ok()) {
      ASSERT_EQ(out.state, before);
      continue;
    }
    ++accepted;
    state = out.state;
    ASSERT_EQ(state.validate(kAllFeatures, kLimits), std::nullopt) << "class " << int(cls) << " cmd " << int(cmd);
  }
  EXPECT_GT(accepted, 100);
}

// ---- restore validation -----------------------------------------------------------

TEST(NetControlStateValidate, RejectsUnreachableStates) {
  const auto good = NetControlState::initial(kOwn, kAllFeatures);
  ASSERT_EQ(good.validate(kAllFeatures, kLimits), std::nullopt);
  const uint64_t minimal = feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_F_VERSION_1);
  ASSERT_EQ(NetControlState::initial(kOwn, minimal).validate(minimal, kLimits), std::nullopt);

  struct Case {
    std::string name;
    uint64_t features;
    std::function<void(NetControlState&)> corrupt;
  };
  const std::vector<Case> cases = {
      {"bad rx filter", kAllFeatures, [](NetControlState& s) { s.rx_filter.unicast.push_back(kMulti1); }},
      {"vlan filtering without CTRL_VLAN", without(VIRTIO_NET_F_CTRL_VLAN),
       [](NetControlState& s) { s.rx_filter.vlan_filtering = true; }},
      {"rx mode without CTRL_RX", minimal, [](NetControlState& s) { s.rx_filter.promisc = false; }},
      {"table without CTRL_RX", minimal, [](NetControlState& s) { s.rx_filter.unicast.push_back(kUni1); }},
      {"extra mode without RX_EXTRA", without(VIRTIO_NET_F_CTRL_RX_EXTRA),
       [](NetControlState& s) { s.rx_filter.nobcast = true; }},
      {"zero queue pairs", kAllFeatures, [](NetControlState& s) { s.queue_pairs = 0; }},
      {"too many queue pairs", kAllFeatures, [](NetControlState& s) { s.queue_pairs = 5; }},
      {"queue pairs without MQ", minimal, [](NetControlState& s) { s.queue_pairs = 2; }},
      {"offloads not negotiated", without(VIRTIO_NET_F_GUEST_UFO),
       [](NetControlState& s) { s.guest_offloads = kGuestOffloadFeatures; }},
      {"announce without feature", without(VIRTIO_NET_F_GUEST_ANNOUNCE),
       [](NetControlState& s) { s.announce_pending = true; }},
      {"disabled rss not empty", kAllFeatures, [](NetControlState& s) { s.rss.hash_types = 1; }},
      {"rss without feature", without(VIRTIO_NET_F_RSS),
       [](NetControlState& s) { s.rss = {true, true, 1, 0, {0}, key_bytes(40)}; }},
      {"rss table not power of two", kAllFeatures,
       [](NetControlState& s) {
         s.rss = {true, true, 1, 0, {0, 1, 2}, key_bytes(40)};
       }},
      {"rss entry out of range", kAllFeatures,
       [](NetControlState& s) {
         s.rss = {true, true, 1, 0, {0, 9}, key_bytes(40)};
       }},
      {"rss unclassified out of range", kAllFeatures,
       [](NetControlState& s) {
         s.rss = {true, true, 1, 4, {0, 1}, key_bytes(40)};
       }},
      {"rss key too long", kAllFeatures, [](NetControlState& s) { s.rss = {true, true, 1, 0, {0}, key_bytes(41)}; }},
      {"rss without key", kAllFeatures, [](NetControlState& s) { s.rss = {true, true, 1, 0, {0}, {}}; }},
      {"rss unsupported types", kAllFeatures,
       [](NetControlState& s) { s.rss = {true, true, VIRTIO_NET_RSS_HASH_TYPE_TCP_EX, 0, {0}, key_bytes(40)}; }},
      {"hash-only with a table", kAllFeatures,
       [](NetControlState& s) { s.rss = {true, false, 1, 0, {0}, key_bytes(40)}; }},
  };
  for (const auto& c : cases) {
    auto s = NetControlState::initial(kOwn, c.features);
    ASSERT_EQ(s.validate(c.features, kLimits), std::nullopt) << c.name;
    c.corrupt(s);
    EXPECT_NE(s.validate(c.features, kLimits), std::nullopt) << c.name;
  }
}

}  // namespace
}  // namespace wren
