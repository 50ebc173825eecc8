// HostSide: the TAP's filter, offloads and queue attachment moved as one
// unit, only real changes issued, all three rolled back on a refusal, and
// NEEDS_RESET reported when the rollback is refused too.
#include "virtio/net/host_side.h"

#include <gtest/gtest.h>

#include "unit/virtio/net/fake_backend.h"
#include "unit/virtio/net/frames.h"

namespace wren {
namespace {

using test::mac;
using Outcome = HostSide::Outcome;
using QueueCall = std::pair<uint16_t, bool>;

const MacAddress kOwn = mac("52:54:00:12:34:56");
const uint64_t kCsum = feature_bit(VIRTIO_NET_F_GUEST_CSUM);
const uint64_t kTso4 = feature_bit(VIRTIO_NET_F_GUEST_TSO4);

const HostSettings kReset{HostFilter{}, 0, 1};
const HostSettings kExact{HostFilter{HostRxLevel::None, {kOwn}, {MacAddress::broadcast()}}, kCsum, 1};
const HostSettings kWide{HostFilter{HostRxLevel::Multicast, {kOwn}, {}}, kCsum | kTso4, 2};

class HostSideTest : public ::testing::Test {
 protected:
  HostSideTest() : backend(2), host(backend.shared()), side(backend, 2, HostFilter{}) {}

  // Establishes `s` from the reset state and forgets the calls it took.
  void establish(const HostSettings& s) {
    ASSERT_EQ(side.change(kReset, s), Outcome::Applied);
    forget_calls();
  }
  void forget_calls() {
    host->filters.clear();
    host->offload_calls.clear();
    host->queue_enables.clear();
  }

  test::SocketPairBackend backend;
  std::shared_ptr<test::SocketPairBackend::Shared> host;
  HostSide side;
};

TEST(HostSettings, FollowTheControlState) {
  NetControlState s = NetControlState::initial(kOwn, kCsum);
  s.queue_pairs = 3;
  s.rx_filter.promisc = false;
  const auto settings = host_settings(s, true);
  EXPECT_EQ(settings.filter, compute_host_filter(s.rx_filter, true));
  EXPECT_EQ(settings.offloads, kCsum);
  EXPECT_EQ(settings.attached_queues, 3);
}

TEST_F(HostSideTest, FirstChangeIssuesWhatIsUnknown) {
  EXPECT_EQ(side.change(kReset, kExact), Outcome::Applied);
  EXPECT_EQ(host->filters, std::vector<HostFilter>{kExact.filter});
  EXPECT_EQ(host->offload_calls, std::vector<uint64_t>{kCsum}) << "offloads start unknown";
  EXPECT_EQ(host->queue_enables, (std::vector<QueueCall>{{0, true}, {1, false}})) << "attachment starts unknown";
  EXPECT_EQ(side.installed_filter(), kExact.filter);
}

TEST_F(HostSideTest, IssuesOnlyRealChanges) {
  establish(kExact);
  EXPECT_EQ(side.change(kExact, kExact), Outcome::Unchanged);
  EXPECT_TRUE(host->filters.empty());
  EXPECT_TRUE(host->offload_calls.empty());
  EXPECT_TRUE(host->queue_enables.empty());

  HostSettings more_queues = kExact;
  more_queues.attached_queues = 2;
  EXPECT_EQ(side.change(kExact, more_queues), Outcome::Applied);
  EXPECT_TRUE(host->filters.empty());
  EXPECT_TRUE(host->offload_calls.empty());
  EXPECT_EQ(host->queue_enables, (std::vector<QueueCall>{{1, true}})) << "queue 0 stays attached: no call";
}

TEST_F(HostSideTest, RollsBackTheFilter) {
  establish(kExact);
  host->filter_results = {false};
  EXPECT_EQ(side.change(kExact, kWide), Outcome::RolledBack);
  EXPECT_EQ(host->filters, (std::vector<HostFilter>{kWide.filter, kExact.filter}));
  EXPECT_TRUE(host->offload_calls.empty()) << "nothing after the refusal was tried";
  EXPECT_TRUE(host->queue_enables.empty());
  EXPECT_EQ(side.installed_filter(), kExact.filter);
  EXPECT_EQ(side.failures(), 1u);
}

TEST_F(HostSideTest, RollsBackFilterAndOffloadsWhenOffloadsAreRefused) {
  establish(kExact);
  host->offload_results = {false};
  EXPECT_EQ(side.change(kExact, kWide), Outcome::RolledBack);
  EXPECT_EQ(host->filters, (std::vector<HostFilter>{kWide.filter, kExact.filter}));
  EXPECT_EQ(host->offload_calls, (std::vector<uint64_t>{kCsum | kTso4, kCsum}));
  EXPECT_EQ(host->offloads, kCsum);
  EXPECT_TRUE(host->queue_enables.empty());
  EXPECT_EQ(side.installed_filter(), kExact.filter);
}

TEST_F(HostSideTest, RollsBackAllThreeWhenQueueAttachIsRefused) {
  establish(kExact);
  host->queue_results = {false};
  EXPECT_EQ(side.change(kExact, kWide), Outcome::RolledBack);
  EXPECT_EQ(host->filters, (std::vector<HostFilter>{kWide.filter, kExact.filter}));
  EXPECT_EQ(host->offload_calls, (std::vector<uint64_t>{kCsum | kTso4, kCsum}));
  EXPECT_EQ(host->queue_enables, (std::vector<QueueCall>{{1, true}, {1, false}}))
      << "the refused attach is undone too: its state is unknown";
  // Everything is known again: the same change issues the same calls.
  forget_calls();
  EXPECT_EQ(side.change(kExact, kWide), Outcome::Applied);
  EXPECT_EQ(host->queue_enables, (std::vector<QueueCall>{{1, true}}));
}

TEST_F(HostSideTest, NeedsResetWhenTheRollbackIsRefused) {
  establish(kExact);
  host->queue_results = {false};
  host->filter_results = {true, false};  // the change goes through, its rollback does not
  EXPECT_EQ(side.change(kExact, kWide), Outcome::NeedsReset);
  EXPECT_FALSE(side.installed_filter().has_value()) << "the host filter is unknown";
  EXPECT_EQ(host->offloads, kCsum) << "the rollback still tries every setting";
  EXPECT_EQ(host->queue_enables.back(), (QueueCall{1, false}));
  // Unknown settings are re-issued, never skipped.
  forget_calls();
  EXPECT_EQ(side.change(kWide, kExact), Outcome::Applied);
  EXPECT_EQ(host->filters, std::vector<HostFilter>{kExact.filter});
  EXPECT_EQ(side.installed_filter(), kExact.filter);
}

TEST_F(HostSideTest, NeedsResetWhenNothingCanBeInstalled) {
  host->filter_results = {false, false};
  EXPECT_EQ(side.change(kReset, kExact), Outcome::NeedsReset);
  EXPECT_FALSE(side.installed_filter().has_value());
}

}  // namespace
}  // namespace wren
