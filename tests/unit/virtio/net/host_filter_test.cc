// Host filter computation from RxFilter.
#include "virtio/net/host_filter.h"

#include <gtest/gtest.h>

#include <random>

#include "unit/virtio/net/frames.h"

namespace wren {
namespace {

using test::frame_to;
using test::mac;

const MacAddress kOwn = mac("52:54:00:12:34:56");
const MacAddress kUni1 = mac("52:54:00:00:00:01");
const MacAddress kMulti1 = mac("01:00:5e:00:00:01");
const MacAddress kBcast = MacAddress::broadcast();

RxFilter plain() {
  RxFilter f = RxFilter::after_reset(kOwn, false);
  f.promisc = false;
  return f;
}

TEST(HostFilter, PromiscuousAfterReset) {
  const auto h = compute_host_filter(RxFilter::after_reset(kOwn, false), true);
  EXPECT_EQ(h.level, HostRxLevel::All);
  EXPECT_TRUE(h.unicast.empty());
  EXPECT_TRUE(h.multicast.empty());
}

TEST(HostFilter, ExactListWithoutModes) {
  auto f = plain();
  EXPECT_EQ(compute_host_filter(f, true), (HostFilter{HostRxLevel::None, {kOwn}, {kBcast}}));
  f.unicast = {kUni1, kOwn};  // our MAC listed again is not duplicated
  f.multicast = {kMulti1};
  EXPECT_EQ(compute_host_filter(f, true), (HostFilter{HostRxLevel::None, {kOwn, kUni1}, {kBcast, kMulti1}}));
  f.nobcast = true;
  EXPECT_EQ(compute_host_filter(f, true), (HostFilter{HostRxLevel::None, {kOwn, kUni1}, {kMulti1}}));
  f.nomulti = true;
  EXPECT_EQ(compute_host_filter(f, true), (HostFilter{HostRxLevel::None, {kOwn, kUni1}, {}}));
  f.nouni = true;
  EXPECT_EQ(compute_host_filter(f, true), (HostFilter{HostRxLevel::None, {kOwn}, {}}))
      << "the primary MAC stays so the exact list is never empty";
}

TEST(HostFilter, AllMulticastLevels) {
  auto f = plain();
  f.unicast = {kUni1};
  f.multicast = {kMulti1};
  f.allmulti = true;
  EXPECT_EQ(compute_host_filter(f, true), (HostFilter{HostRxLevel::Multicast, {kOwn, kUni1}, {}}));
  f.allmulti = false;
  f.multicast.clear();
  f.multi_overflow = true;
  EXPECT_EQ(compute_host_filter(f, true).level, HostRxLevel::Multicast);
  f.nomulti = true;  // NOMULTI wins over the overflow
  EXPECT_EQ(compute_host_filter(f, true).level, HostRxLevel::None);
}

TEST(HostFilter, AllUnicastNeedsEverything) {
  auto f = plain();
  f.alluni = true;
  EXPECT_EQ(compute_host_filter(f, true).level, HostRxLevel::All);
  f.alluni = false;
  f.uni_overflow = true;
  EXPECT_EQ(compute_host_filter(f, true).level, HostRxLevel::All);
  f.nouni = true;  // NOUNI wins: no unicast wanted at all
  EXPECT_EQ(compute_host_filter(f, true).level, HostRxLevel::None);
}

TEST(HostFilter, AtLeastAllMulticastBeforeCtrlRx) {
  EXPECT_EQ(compute_host_filter(plain(), false).level, HostRxLevel::Multicast);
  EXPECT_EQ(compute_host_filter(RxFilter::after_reset(kOwn, false), false).level, HostRxLevel::All);
  EXPECT_EQ(compute_host_filter(plain(), true).level, HostRxLevel::None) << "leaves all-multicast once negotiated";
}

TEST(HostFilter, PassesFollowsTheLevel) {
  const HostFilter none{HostRxLevel::None, {kOwn}, {kBcast}};
  EXPECT_TRUE(none.passes(kOwn));
  EXPECT_TRUE(none.passes(kBcast));
  EXPECT_FALSE(none.passes(kUni1));
  EXPECT_FALSE(none.passes(kMulti1));
  const HostFilter multi{HostRxLevel::Multicast, {kOwn}, {}};
  EXPECT_TRUE(multi.passes(kMulti1));
  EXPECT_TRUE(multi.passes(kBcast));
  EXPECT_FALSE(multi.passes(kUni1));
  EXPECT_TRUE(HostFilter{}.passes(kUni1));
}

// The host filter is a pre-filter: whatever the guest's filter accepts must
// pass it. Random filters x destinations.
TEST(HostFilter, NeverNarrowerThanTheGuestFilter) {
  std::mt19937 rng(7);
  const std::vector<MacAddress> pool = {kOwn,  kUni1, mac("52:54:00:00:00:09"), kMulti1, mac("33:33:00:00:00:01"),
                                        kBcast};
  auto pick = [&] { return pool[rng() % pool.size()]; };
  for (int i = 0; i < 5000; ++i) {
    RxFilter f = plain();
    f.promisc = rng() % 8 == 0;
    f.allmulti = rng() % 3 == 0;
    f.alluni = rng() % 5 == 0;
    f.nomulti = rng() % 4 == 0;
    f.nouni = rng() % 4 == 0;
    f.nobcast = rng() % 4 == 0;
    f.uni_overflow = rng() % 6 == 0;
    f.multi_overflow = rng() % 6 == 0;
    for (int n = static_cast<int>(rng() % 3); n > 0; --n) {
      const auto m = pick();
      if (m.is_unicast() && !f.uni_overflow) f.unicast.push_back(m);
      if (m.is_multicast() && !f.multi_overflow) f.multicast.push_back(m);
    }
    const bool ctrl_rx = rng() % 4 != 0;
    const auto host = compute_host_filter(f, ctrl_rx);
    for (const auto& dest : pool) {
      if (f.accept(frame_to(dest))) {
        ASSERT_TRUE(host.passes(dest)) << i << " " << dest.to_string();
      }
    }
  }
}

}  // namespace
}  // namespace wren
