// Tap: the pure translations, and a real TAP in a private network namespace
// (a forked child unshares CLONE_NEWNET, so nothing touches the host's
// namespace; the TAP vanishes with the namespace when the child exits).
#include "virtio/net/tap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>

#include "unit/virtio/net/frames.h"
#include "unit/virtio/net/netns.h"
#include "virtio/net/net_features.h"

namespace wren {
namespace {

using test::create_persistent_tap;
using test::in_private_netns;
using test::link_up;
using test::mac;
using test::read_markers_until;
using test::test_frame;

const MacAddress kOwn = mac("52:54:00:12:34:56");
const MacAddress kUni = mac("52:54:00:00:00:07");
const MacAddress kMulti = mac("01:00:5e:00:00:01");

TEST(TapOffloads, MapsGuestOffloadsToTunFlags) {
  EXPECT_EQ(Tap::tun_offload_flags(0), 0u);
  EXPECT_EQ(Tap::tun_offload_flags(feature_bit(VIRTIO_NET_F_GUEST_TSO4)), 0u) << "nothing without checksum offload";
  EXPECT_EQ(Tap::tun_offload_flags(feature_bit(VIRTIO_NET_F_GUEST_CSUM)), unsigned{TUN_F_CSUM});
  EXPECT_EQ(Tap::tun_offload_flags(kGuestOffloadFeatures),
            unsigned{TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO});
  EXPECT_EQ(Tap::tun_offload_flags(feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_ECN)),
            unsigned{TUN_F_CSUM})
      << "ECN only with TSO";
}

TEST(TapFilter, EncodesTunFilter) {
  auto header = [](const std::vector<uint8_t>& b) {
    tun_filter f{};
    std::memcpy(&f, b.data(), sizeof(f));
    return std::pair<int, int>(f.flags, f.count);
  };
  auto all = Tap::tun_filter_bytes(HostFilter{});
  EXPECT_EQ(header(all), (std::pair<int, int>(0, 0)));
  EXPECT_EQ(all.size(), sizeof(tun_filter));

  auto multi = Tap::tun_filter_bytes({HostRxLevel::Multicast, {kOwn, kUni}, {}});
  EXPECT_EQ(header(multi), (std::pair<int, int>(TUN_FLT_ALLMULTI, 2)));
  EXPECT_EQ(MacAddress::from_bytes(std::span(multi).subspan(sizeof(tun_filter))), kOwn);
  EXPECT_EQ(MacAddress::from_bytes(std::span(multi).subspan(sizeof(tun_filter) + 6)), kUni);

  auto exact = Tap::tun_filter_bytes({HostRxLevel::None, {kOwn}, {MacAddress::broadcast(), kMulti}});
  EXPECT_EQ(header(exact), (std::pair<int, int>(0, 3)));
  EXPECT_EQ(exact.size(), sizeof(tun_filter) + 18);
  EXPECT_EQ(MacAddress::from_bytes(std::span(exact).subspan(sizeof(tun_filter) + 12)), kMulti);
}

TEST(TapOpen, RejectsBadNames) {
  EXPECT_THROW(Tap::open("", 1), TapError);
  EXPECT_THROW(Tap::open("a-name-that-is-too-long", 1), TapError);
  EXPECT_THROW(Tap::open("wren-no-such0", 0), TapError);
}

// ---- In a private network namespace -----------------------------------------------

std::string expect_tap_error(const std::function<void()>& fn, int errno_value, const std::string& fragment) {
  try {
    fn();
  } catch (const TapError& e) {
    if (e.errno_value() != errno_value)
      return "errno " + std::to_string(e.errno_value()) + " instead of " + std::to_string(errno_value) + ": " +
             e.what();
    if (std::string(e.what()).find(fragment) == std::string::npos)
      return "message lacks '" + fragment + "': " + e.what();
    return "";
  }
  return "no TapError (expected '" + fragment + "')";
}

TEST(TapInNamespace, OpenErrorsAreClear) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  const std::string result = in_private_netns([]() -> std::string {
    if (auto e = expect_tap_error([] { (void)Tap::open("wrt0", 1); }, ENODEV, "does not exist"); !e.empty()) return e;
    if (!create_persistent_tap("wrt0", false)) return "could not create wrt0";
    auto tap = Tap::open("wrt0", 1);
    if (auto e = expect_tap_error([] { (void)Tap::open("wrt0", 1); }, EBUSY, "busy"); !e.empty()) return e;
    if (auto e = expect_tap_error([] { (void)Tap::open("wrt0", 2); }, EINVAL, "multi_queue"); !e.empty()) return e;
    tap.reset();
    if (!create_persistent_tap("wrtmq0", true)) return "could not create wrtmq0";
    auto mq = Tap::open("wrtmq0", 2);
    if (mq->queue_count() != 2) return "multi-queue TAP has " + std::to_string(mq->queue_count()) + " queues";
    if (!mq->set_queue_enabled(1, false) || !mq->set_queue_enabled(1, true)) return "TUNSETQUEUE failed";
    if (auto e = expect_tap_error([] { (void)Tap::open("wrtmq0", 1); }, EINVAL, "not"); !e.empty()) return e;
    return "";
  });
  if (result.rfind("skip:", 0) == 0) GTEST_SKIP() << result;
  EXPECT_EQ(result, "");
}

// The kernel refuses to attach an attached queue (EINVAL); a control command
// that re-asserts the current queue count must still succeed.
TEST(TapInNamespace, QueueAttachAndDetachAreIdempotent) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  const std::string result = in_private_netns([]() -> std::string {
    if (!create_persistent_tap("wrtmq0", true)) return "could not create wrtmq0";
    auto mq = Tap::open("wrtmq0", 2);
    if (!mq->set_queue_enabled(0, true) || !mq->set_queue_enabled(1, true)) return "attaching an attached queue failed";
    if (!mq->set_queue_enabled(1, false) || !mq->set_queue_enabled(1, false)) return "detaching twice failed";
    if (!mq->set_queue_enabled(1, true) || !mq->set_queue_enabled(1, true)) return "attaching twice failed";
    return "";
  });
  if (result.rfind("skip:", 0) == 0) GTEST_SKIP() << result;
  EXPECT_EQ(result, "");
}

TEST(TapInNamespace, FramesFlowBothWaysAndTheFilterApplies) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  const std::string result = in_private_netns([]() -> std::string {
    if (!create_persistent_tap("wrt0", false)) return "could not create wrt0";
    auto tap = Tap::open("wrt0", 1);
    if (!(tap->supported_guest_offloads() & feature_bit(VIRTIO_NET_F_GUEST_CSUM))) return "no checksum offload";
    if (!tap->set_vnet_header_size(12)) return "TUNSETVNETHDRSZ failed";
    if (!tap->set_offloads(tap->supported_guest_offloads())) return "TUNSETOFFLOAD failed";
    if (!tap->set_offloads(0)) return "TUNSETOFFLOAD 0 failed";
    if (!link_up("wrt0")) return "could not bring wrt0 up";
    const int ifindex = static_cast<int>(::if_nametoindex("wrt0"));

    UniqueFd packet = test::packet_socket(ifindex);
    if (!packet.valid()) return "packet socket failed";

    // Guest -> host: header + frame written to the TAP arrives on wrt0.
    std::vector<uint8_t> msg(12, 0);
    const auto out = test_frame(MacAddress::broadcast(), 0x11);
    msg.insert(msg.end(), out.begin(), out.end());
    if (::write(tap->queue_fd(0), msg.data(), msg.size()) != static_cast<ssize_t>(msg.size()))
      return "tap write failed";
    if (read_markers_until(packet.get(), 0, 0x11, 2000) != std::vector<uint8_t>{0x11})
      return "frame written to the TAP never reached wrt0";

    // Host -> guest through the TX filter. Frames on one queue keep their
    // order, so a frame that should be filtered would show up before the
    // one sent after it.
    auto send_on_wire = [&](const MacAddress& dest, uint8_t marker) {
      const auto f = test_frame(dest, marker);
      return ::send(packet.get(), f.data(), f.size(), 0) == static_cast<ssize_t>(f.size());
    };
    const int fd = tap->queue_fd(0);
    if (!tap->apply({HostRxLevel::None, {kOwn}, {MacAddress::broadcast()}})) return "TUNSETTXFILTER failed";
    if (!send_on_wire(kUni, 0x21) || !send_on_wire(kMulti, 0x22) || !send_on_wire(kOwn, 0x23))
      return "packet send failed";
    if (auto seen = read_markers_until(fd, 12, 0x23, 2000); seen != std::vector<uint8_t>{0x23})
      return "exact filter: got " + std::to_string(seen.size()) + " test frames, wanted only the one to our MAC";
    if (!send_on_wire(MacAddress::broadcast(), 0x24)) return "packet send failed";
    if (read_markers_until(fd, 12, 0x24, 2000) != std::vector<uint8_t>{0x24}) return "broadcast filtered";

    if (!tap->apply({HostRxLevel::Multicast, {kOwn}, {}})) return "ALLMULTI filter failed";
    if (!send_on_wire(kUni, 0x31) || !send_on_wire(kMulti, 0x32)) return "packet send failed";
    if (read_markers_until(fd, 12, 0x32, 2000) != std::vector<uint8_t>{0x32})
      return "ALLMULTI filter: unicast passed or multicast did not";

    if (!tap->apply(HostFilter{})) return "clearing the filter failed";
    if (!send_on_wire(kUni, 0x41)) return "packet send failed";
    if (read_markers_until(fd, 12, 0x41, 2000) != std::vector<uint8_t>{0x41})
      return "unfiltered frame did not reach the TAP";
    return "";
  });
  if (result.rfind("skip:", 0) == 0) GTEST_SKIP() << result;
  EXPECT_EQ(result, "");
}

}  // namespace
}  // namespace wren
