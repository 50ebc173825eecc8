// NetDevice on a real TAP (in a private network namespace): the fake guest
// driver's frames reach the wire, frames from the wire reach the guest's
// buffers, and the guest's receive filter reaches the TAP.
#include <gtest/gtest.h>
#include <net/if.h>

#include <map>

#include <linux/virtio_config.h>

#include "unit/virtio/fake_driver.h"
#include "unit/virtio/net/frames.h"
#include "unit/virtio/net/netns.h"
#include "virtio/net/net_device.h"
#include "virtio/net/net_header.h"
#include "virtio/net/tap.h"

namespace wren {
namespace {

using test::mac;
using Bytes = std::vector<uint8_t>;

const MacAddress kOwn = mac("52:54:00:12:34:56");
const MacAddress kOther = mac("52:54:00:00:00:07");
constexpr uint64_t kMiB = 1 << 20;

struct NullEvents : VirtioTransportEvents {
  void signal_used(uint16_t) override { ++used; }
  void signal_config_changed() override {}
  void set_needs_reset() override { ++needs_reset; }
  int used = 0;
  int needs_reset = 0;
};

std::string run_device_on_tap() {
  if (!test::create_persistent_tap("wrt0", false)) return "could not create wrt0";
  // Attach before bringing the link up: a TAP that goes up without a queue
  // has no carrier, and its qdisc only starts (asynchronously, via linkwatch)
  // once the carrier appears, dropping what is sent meanwhile.
  auto tap = Tap::open("wrt0", 1);
  if (!test::link_up("wrt0")) return "could not bring wrt0 up";
  auto wire = test::packet_socket(static_cast<int>(::if_nametoindex("wrt0")));
  if (!wire.valid()) return "packet socket failed";

  GuestMemory mem({{0, kMiB}, {kMiB, kMiB}, {2 * kMiB, kMiB}});
  std::vector<Queue> queues;
  std::vector<std::unique_ptr<FakeDriver>> drivers;
  for (int i = 0; i < 3; ++i) {
    queues.emplace_back(256, "q" + std::to_string(i));
    drivers.push_back(std::make_unique<FakeDriver>(mem, 64, i * kMiB));
    drivers.back()->attach(queues.back());
  }
  FakeDriver& rx = *drivers[0];
  FakeDriver& tx = *drivers[1];
  FakeDriver& ctrl = *drivers[2];

  boost::asio::io_context io;
  NetDeviceOptions opts;
  opts.mac = kOwn;
  auto dev = NetDevice::create(opts, std::move(tap), io);
  NullEvents events;
  dev->bind_transport(&events);
  const uint64_t features = kVirtioFVersion1 | feature_bit(VIRTIO_NET_F_MAC) | feature_bit(VIRTIO_NET_F_CTRL_VQ) |
                            feature_bit(VIRTIO_NET_F_CTRL_RX) | feature_bit(VIRTIO_NET_F_MRG_RXBUF) |
                            feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_CSUM);
  if (!dev->activate({features, &mem, std::span<Queue>(queues)})) return "activation failed";

  // Guest -> wire.
  const Bytes header(12, 0);
  const auto out = test::test_frame(MacAddress::broadcast(), 0x51);
  tx.send({{tx.put_bytes(header), 12, false}, {tx.put_bytes(out), static_cast<uint32_t>(out.size()), false}});
  dev->queue_notify(1);
  if (test::read_markers_until(wire.get(), 0, 0x51, 2000) != Bytes{0x51}) return "guest frame never reached the wire";
  if (!tx.next_used()) return "TX chain not returned";

  // Guest filter: leave promiscuous mode.
  const uint64_t status = ctrl.alloc(1);
  const Bytes cmd = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0};
  ctrl.send({{ctrl.put_bytes(cmd), 3, false}, {status, 1, true}});
  dev->queue_notify(2);
  if (!ctrl.next_used() || ctrl.get_bytes(status, 1)[0] != VIRTIO_NET_OK) return "PROMISC 0 not acked OK";
  const auto report = dev->query_rx_filter();
  if (report.installed != report.wanted || report.wanted.level != HostRxLevel::None)
    return "host filter not installed as wanted";

  // Wire -> guest: the frame to another MAC is stopped, ours arrives. (The
  // kernel's own IPv6 link-up traffic may arrive too; only test frames count.)
  std::map<uint32_t, uint64_t> buffer_of;  // head -> gpa
  for (int i = 0; i < 16; ++i) {
    const uint64_t gpa = rx.alloc(2048);
    buffer_of[rx.send({{gpa, 2048, true}})] = gpa;
  }
  dev->queue_notify(0);
  for (auto [dest, marker] : {std::pair{kOther, uint8_t{0x61}}, std::pair{kOwn, uint8_t{0x62}}}) {
    const auto f = test::test_frame(dest, marker);
    if (::send(wire.get(), f.data(), f.size(), 0) != static_cast<ssize_t>(f.size())) return "wire send failed";
  }
  Bytes markers;
  for (int i = 0; i < 200 && (markers.empty() || markers.back() != 0x62); ++i) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
    while (auto used = rx.next_used()) {
      const Bytes got = rx.get_bytes(buffer_of.at(used->id), used->len);
      if (decode_net_header(std::span(got).first(12)).num_buffers != 1) return "num_buffers not 1";
      if (got.size() == 12 + 60 && got[12 + 12] == (test::kTestEtherType >> 8)) markers.push_back(got[12 + 20]);
    }
  }
  if (markers != Bytes{0x62}) {
    const auto c = dev->counters();
    return "test frames seen by the guest: " + std::to_string(markers.size()) + " (rx " + std::to_string(c.rx_packets) +
           ", filtered " + std::to_string(c.rx_filtered_total()) + ")";
  }
  if (events.needs_reset != 0) return "device needs reset";
  return "";
}

TEST(NetDeviceOnTap, EndToEndInANamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  const std::string result = test::in_private_netns(run_device_on_tap);
  if (result.rfind("skip:", 0) == 0) GTEST_SKIP() << result;
  EXPECT_EQ(result, "");
}

}  // namespace
}  // namespace wren
