// RxFilter::classify over a table of filter states x frames.
#include "virtio/net/rx_filter.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "unit/virtio/net/frames.h"

namespace wren {
namespace {

using test::frame_to;
using test::mac;

const MacAddress kOwn = mac("52:54:00:12:34:56");
const MacAddress kListedUni = mac("52:54:00:00:00:02");
const MacAddress kOtherUni = mac("52:54:00:00:00:03");
const MacAddress kListedMulti = mac("01:00:5e:00:00:01");
const MacAddress kOtherMulti = mac("33:33:00:00:00:01");

struct NamedFrame {
  std::string name;
  std::vector<uint8_t> bytes;
};

std::vector<NamedFrame> frames() {
  auto vlan_runt = frame_to(kOwn, 5);
  vlan_runt.resize(16);  // tag present, but shorter than a tagged header
  auto runt = frame_to(kOwn);
  runt.resize(13);
  return {
      {"own", frame_to(kOwn)},
      {"listed-uni", frame_to(kListedUni)},
      {"other-uni", frame_to(kOtherUni)},
      {"broadcast", frame_to(MacAddress::broadcast())},
      {"listed-multi", frame_to(kListedMulti)},
      {"other-multi", frame_to(kOtherMulti)},
      {"runt", runt},
      {"vlan5-own", frame_to(kOwn, 5)},
      {"vlan6-own", frame_to(kOwn, 6)},
      {"vlan-runt", vlan_runt},
  };
}

RxFilter base() {
  RxFilter f = RxFilter::after_reset(kOwn, false);
  f.promisc = false;
  return f;
}
RxFilter with_table(RxFilter f) {
  f.unicast = {kListedUni};
  f.multicast = {kListedMulti};
  return f;
}

constexpr auto A = RxVerdict::Accept;
constexpr auto R = RxVerdict::DropRunt;
constexpr auto V = RxVerdict::DropVlan;
constexpr auto B = RxVerdict::DropBroadcast;
constexpr auto M = RxVerdict::DropMulticast;
constexpr auto U = RxVerdict::DropUnicast;

struct Row {
  std::string name;
  std::function<RxFilter()> make;
  // One verdict per frame, in frames() order.
  std::vector<RxVerdict> expect;
};

TEST(RxFilterAccept, TableOfFiltersAndFrames) {
  const std::vector<Row> rows = {
      {"after-reset", [] { return RxFilter::after_reset(kOwn, false); }, {A, A, A, A, A, A, A, A, A, A}},
      {"plain", [] { return base(); }, {A, U, U, A, M, M, R, A, A, A}},
      {"table", [] { return with_table(base()); }, {A, A, U, A, A, M, R, A, A, A}},
      {"allmulti",
       [] {
         auto f = with_table(base());
         f.allmulti = true;
         return f;
       },
       {A, A, U, A, A, A, R, A, A, A}},
      {"alluni",
       [] {
         auto f = with_table(base());
         f.alluni = true;
         return f;
       },
       {A, A, A, A, A, M, R, A, A, A}},
      {"nomulti-beats-allmulti",
       [] {
         auto f = with_table(base());
         f.nomulti = true;
         f.allmulti = true;
         return f;
       },
       {A, A, U, A, M, M, R, A, A, A}},
      {"nouni-beats-alluni",
       [] {
         auto f = with_table(base());
         f.nouni = true;
         f.alluni = true;
         return f;
       },
       {U, U, U, A, A, M, R, U, U, U}},
      {"nobcast",
       [] {
         auto f = with_table(base());
         f.nobcast = true;
         return f;
       },
       {A, A, U, B, A, M, R, A, A, A}},
      {"nobcast-beats-allmulti",
       [] {
         auto f = with_table(base());
         f.nobcast = true;
         f.allmulti = true;
         return f;
       },
       {A, A, U, B, A, A, R, A, A, A}},
      {"uni-overflow",
       [] {
         auto f = base();
         f.uni_overflow = true;
         f.multicast = {kListedMulti};
         return f;
       },
       {A, A, A, A, A, M, R, A, A, A}},
      {"multi-overflow",
       [] {
         auto f = base();
         f.multi_overflow = true;
         f.unicast = {kListedUni};
         return f;
       },
       {A, A, U, A, A, A, R, A, A, A}},
      {"vlan-filtering",
       [] {
         auto f = with_table(base());
         f.vlan_filtering = true;
         f.set_vlan(5, true);
         return f;
       },
       {A, A, U, A, A, M, R, A, V, R}},
      {"vlan-filtering-promisc",
       [] {
         auto f = RxFilter::after_reset(kOwn, true);
         f.set_vlan(5, true);
         return f;
       },
       {A, A, A, A, A, A, A, A, A, A}},
      {"vlan-filtering-empty-table",
       [] {
         auto f = with_table(base());
         f.vlan_filtering = true;
         return f;
       },
       {A, A, U, A, A, M, R, V, V, R}},
  };
  const auto fs = frames();
  for (const auto& row : rows) {
    ASSERT_EQ(row.expect.size(), fs.size()) << row.name;
    const RxFilter f = row.make();
    for (size_t i = 0; i < fs.size(); ++i) {
      EXPECT_EQ(to_string(f.classify(fs[i].bytes)), to_string(row.expect[i])) << row.name << " x " << fs[i].name;
      EXPECT_EQ(f.accept(fs[i].bytes), row.expect[i] == A) << row.name << " x " << fs[i].name;
    }
  }
}

TEST(RxFilterAccept, VlanIdIgnoresPriorityBits) {
  auto f = base();
  f.vlan_filtering = true;
  f.set_vlan(5, true);
  auto tagged = frame_to(kOwn, 0xe005);  // PCP 7, DEI 0, VID 5
  EXPECT_TRUE(f.accept(tagged));
  tagged = frame_to(kOwn, 0xe006);
  EXPECT_EQ(f.classify(tagged), RxVerdict::DropVlan);
}

TEST(RxFilterAccept, EmptyAndHeaderOnlyFrames) {
  const auto f = base();
  EXPECT_EQ(f.classify({}), RxVerdict::DropRunt);
  auto header_only = frame_to(kOwn, std::nullopt, 0);
  ASSERT_EQ(header_only.size(), 14u);
  EXPECT_TRUE(f.accept(header_only));
}

TEST(RxFilterVlan, SetClearAndList) {
  RxFilter f = RxFilter::after_reset(kOwn, true);
  EXPECT_TRUE(f.vlan_ids().empty());
  f.set_vlan(0, true);
  f.set_vlan(63, true);
  f.set_vlan(64, true);
  f.set_vlan(4095, true);
  f.set_vlan(4096, true);  // out of range: ignored
  EXPECT_EQ(f.vlan_ids(), (std::vector<uint16_t>{0, 63, 64, 4095}));
  EXPECT_FALSE(f.vlan_allowed(4096));
  f.set_vlan(63, false);
  EXPECT_EQ(f.vlan_ids(), (std::vector<uint16_t>{0, 64, 4095}));
}

TEST(RxFilterValidate, AcceptsReachableStates) {
  EXPECT_EQ(RxFilter::after_reset(kOwn, false).validate(), std::nullopt);
  auto f = with_table(base());
  f.vlan_filtering = true;
  f.set_vlan(100, true);
  EXPECT_EQ(f.validate(), std::nullopt);
  RxFilter full = base();
  for (int i = 0; i < 32; ++i) {
    full.unicast.push_back(mac("52:54:00:00:01:00"));
    full.multicast.push_back(mac("01:00:5e:00:00:09"));
  }
  EXPECT_EQ(full.validate(), std::nullopt);
}

TEST(RxFilterValidate, RejectsCorruptStates) {
  std::vector<std::pair<std::string, std::function<void(RxFilter&)>>> corruptions = {
      {"multicast primary", [](RxFilter& f) { f.mac = kListedMulti; }},
      {"zero primary", [](RxFilter& f) { f.mac = MacAddress{}; }},
      {"multicast in unicast table", [](RxFilter& f) { f.unicast.push_back(kOtherMulti); }},
      {"unicast in multicast table", [](RxFilter& f) { f.multicast.push_back(kOtherUni); }},
      {"table too large",
       [](RxFilter& f) {
         f.unicast.assign(65, kOtherUni);
         f.multicast.clear();
       }},
      {"table too large across classes",
       [](RxFilter& f) {
         f.unicast.assign(33, kOtherUni);
         f.multicast.assign(32, kOtherMulti);
       }},
      {"uni overflow with entries", [](RxFilter& f) { f.uni_overflow = true; }},
      {"multi overflow with entries", [](RxFilter& f) { f.multi_overflow = true; }},
      {"vlan table without filtering",
       [](RxFilter& f) {
         f.vlan_filtering = false;
         f.vlans[63] = 1;
       }},
  };
  for (const auto& [name, corrupt] : corruptions) {
    RxFilter f = with_table(base());
    ASSERT_EQ(f.validate(), std::nullopt);
    corrupt(f);
    EXPECT_NE(f.validate(), std::nullopt) << name;
  }
}

TEST(RxFilterEquality, ComparesEveryField) {
  const RxFilter a = with_table(base());
  RxFilter b = a;
  EXPECT_EQ(a, b);
  b.set_vlan(1, true);
  EXPECT_NE(a, b);
  b = a;
  b.nobcast = true;
  EXPECT_NE(a, b);
  b = a;
  b.multicast.push_back(kOtherMulti);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace wren
