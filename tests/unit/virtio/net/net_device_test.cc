// NetDevice against a fake guest driver (tests/unit/virtio/fake_driver.h)
// and a socketpair backend: features, config, TX, RX (filtering, mergeable
// buffers, starvation without lost wakeups), the control queue, guest
// errors, save/restore.
#include "virtio/net/net_device.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <chrono>

#include <linux/virtio_config.h>

#include "unit/virtio/fake_driver.h"
#include "unit/virtio/net/fake_backend.h"
#include "unit/virtio/net/frames.h"
#include "virtio/net/net_header.h"

namespace wren {
namespace {

using test::frame_from;
using test::frame_to;
using test::mac;
using Bytes = std::vector<uint8_t>;

const MacAddress kOwn = mac("52:54:00:12:34:56");
const MacAddress kOther = mac("52:54:00:99:99:99");

constexpr uint64_t kBase = kVirtioFVersion1 | feature_bit(VIRTIO_NET_F_MAC) | feature_bit(VIRTIO_NET_F_STATUS) |
                           feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) |
                           feature_bit(VIRTIO_NET_F_CTRL_RX_EXTRA) | feature_bit(VIRTIO_NET_F_CTRL_VLAN) |
                           feature_bit(VIRTIO_NET_F_GUEST_ANNOUNCE) | feature_bit(VIRTIO_NET_F_CSUM) |
                           feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
constexpr uint64_t kMrg = kBase | feature_bit(VIRTIO_NET_F_MRG_RXBUF);
constexpr uint64_t kMiB = 1 << 20;

struct FakeEvents : VirtioTransportEvents {
  void signal_used(uint16_t index) override { used.push_back(index); }
  void signal_config_changed() override { ++config_changed; }
  void set_needs_reset() override { ++needs_reset; }
  std::vector<uint16_t> used;
  int config_changed = 0;
  int needs_reset = 0;
};

std::vector<MemoryRegion> regions(size_t n) {
  std::vector<MemoryRegion> r;
  for (size_t i = 0; i < n; ++i) r.push_back({i * kMiB, kMiB});
  return r;
}

class NetDeviceTest : public ::testing::Test {
 protected:
  explicit NetDeviceTest(uint16_t pairs = 1, bool mac_change = false, bool mac_lock = false)
      : pairs_(pairs), mem(regions(2 * pairs + 1)) {
    auto backend = std::make_unique<test::SocketPairBackend>(pairs);
    host = backend->shared();
    NetDeviceOptions opts;
    opts.mac = kOwn;
    opts.queue_pairs = pairs;
    opts.mac_change = mac_change;
    opts.mac_lock = mac_lock;
    dev = NetDevice::create(opts, std::move(backend), io);
    dev->bind_transport(&events);
    for (uint16_t i = 0; i < 2 * pairs + 1; ++i) {
      queues.emplace_back(256, "net0.q" + std::to_string(i));
      drivers.push_back(std::make_unique<FakeDriver>(mem, 64, i * kMiB));
    }
  }

  // Attaches the queues a driver with `features` uses and sets DRIVER_OK.
  bool activate(uint64_t features, bool event_idx = false) {
    attach_queues(features, event_idx);
    return driver_ok();
  }
  // The driver's setup before DRIVER_OK (it may add buffers already).
  void attach_queues(uint64_t features, bool event_idx = false) {
    features_ = features;
    event_idx_ = event_idx;
    const bool multi = has_feature(features, VIRTIO_NET_F_MQ) || has_feature(features, VIRTIO_NET_F_RSS);
    const uint16_t used_pairs = multi ? pairs_ : 1;
    for (uint16_t i = 0; i < 2 * used_pairs; ++i) drivers[i]->attach(queues[i], event_idx);
    if (has_feature(features, VIRTIO_NET_F_CTRL_VQ)) {
      ctrl_index_ = static_cast<uint16_t>(2 * used_pairs);
      // The driver attached to queue index 2*used_pairs is the control queue.
      drivers[ctrl_index_]->attach(queues[ctrl_index_], event_idx);
    }
  }
  bool driver_ok() {
    ActivationContext ctx{features_ | (event_idx_ ? kVirtioFRingEventIdx : 0), &mem, std::span<Queue>(queues)};
    return dev->activate(ctx);
  }
  void poll() {
    io.restart();
    io.poll();
  }
  FakeDriver& rx(uint16_t pair = 0) { return *drivers[2 * pair]; }
  FakeDriver& tx(uint16_t pair = 0) { return *drivers[2 * pair + 1]; }
  FakeDriver& ctrl() { return *drivers[ctrl_index_]; }
  size_t header_size() const { return net_header_size(features_); }

  // Host side of the backend.
  void inject(const Bytes& frame, const NetHeader& h = {}, uint16_t queue = 0) {
    Bytes msg(header_size());
    encode_net_header(h, msg);
    msg.insert(msg.end(), frame.begin(), frame.end());
    ASSERT_EQ(::send(host->host_fds[queue].get(), msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  }
  std::optional<Bytes> host_read(uint16_t queue = 0) {
    Bytes buf(70000);
    const ssize_t n = ::recv(host->host_fds[queue].get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

  // Guest side.
  uint64_t post_rx(uint32_t len = 2048, uint16_t pair = 0) {
    const uint64_t gpa = rx(pair).alloc(len);
    rx(pair).send({{gpa, len, true}});
    return gpa;
  }
  void send_tx(const Bytes& frame, const NetHeader& h = {}) {
    Bytes hdr(header_size());
    encode_net_header(h, hdr);
    tx().send({{tx().put_bytes(hdr), static_cast<uint32_t>(hdr.size()), false},
               {tx().put_bytes(frame), static_cast<uint32_t>(frame.size()), false}});
    dev->queue_notify(1);
  }
  // Puts a control command on the control queue; returns its status byte's address.
  uint64_t queue_command(uint8_t cls, uint8_t cmd, const Bytes& data) {
    Bytes head = {cls, cmd};
    head.insert(head.end(), data.begin(), data.end());
    const uint64_t status = ctrl().alloc(1);
    EXPECT_TRUE(mem.fill(status, 0xee, 1));
    ctrl().send({{ctrl().put_bytes(head), static_cast<uint32_t>(head.size()), false}, {status, 1, true}});
    return status;
  }
  // Sends a control command; returns the ack (nullopt if not completed).
  std::optional<uint8_t> command(uint8_t cls, uint8_t cmd, const Bytes& data) {
    const uint64_t status = queue_command(cls, cmd, data);
    dev->queue_notify(ctrl_index_);
    auto used = ctrl().next_used();
    if (!used) return std::nullopt;
    EXPECT_EQ(used->len, 1u);
    return ctrl().get_bytes(status, 1)[0];
  }
  std::optional<uint8_t> rx_mode(uint8_t cmd, bool on) {
    return command(VIRTIO_NET_CTRL_RX, cmd, {on ? uint8_t{1} : uint8_t{0}});
  }

  uint16_t pairs_;
  GuestMemory mem;
  boost::asio::io_context io;
  std::shared_ptr<test::SocketPairBackend::Shared> host;
  std::shared_ptr<NetDevice> dev;
  FakeEvents events;
  std::vector<Queue> queues;
  std::vector<std::unique_ptr<FakeDriver>> drivers;
  uint64_t features_ = 0;
  bool event_idx_ = false;
  uint16_t ctrl_index_ = 2;
};

// ---- Features and config ------------------------------------------------------------

TEST(NetDeviceCreate, RejectsBadOptions) {
  boost::asio::io_context io;
  NetDeviceOptions opts;
  opts.mac = kOwn;
  EXPECT_THROW(NetDevice::create(opts, nullptr, io), std::invalid_argument);
  opts.mac = mac("01:00:5e:00:00:01");
  EXPECT_THROW(NetDevice::create(opts, std::make_unique<test::SocketPairBackend>(1), io), std::invalid_argument);
  opts.mac = kOwn;
  opts.queue_pairs = 2;
  EXPECT_THROW(NetDevice::create(opts, std::make_unique<test::SocketPairBackend>(1), io), std::invalid_argument);
  opts.queue_pairs = 1;
  opts.queue_size = 100;
  EXPECT_THROW(NetDevice::create(opts, std::make_unique<test::SocketPairBackend>(1), io), std::invalid_argument);
}

TEST_F(NetDeviceTest, OffersFeaturesAndConfig) {
  const uint64_t f = dev->device_features();
  for (unsigned bit :
       {VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_RX_EXTRA,
        VIRTIO_NET_F_CTRL_VLAN, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_GUEST_ANNOUNCE, VIRTIO_NET_F_CSUM,
        VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS})
    EXPECT_TRUE(has_feature(f, bit)) << bit;
  EXPECT_TRUE(f & kVirtioFVersion1);
  EXPECT_TRUE(f & kVirtioFRingEventIdx);
  EXPECT_FALSE(has_feature(f, VIRTIO_NET_F_CTRL_MAC_ADDR)) << "mac-change=off";
  EXPECT_FALSE(has_feature(f, VIRTIO_NET_F_MQ)) << "one queue pair";
  EXPECT_EQ(dev->num_queues(), 3);
  EXPECT_EQ(dev->device_type(), 1u);

  uint8_t cfg[NetDevice::kConfigSize];
  dev->read_config(0, cfg);
  EXPECT_EQ(MacAddress::from_bytes(cfg), kOwn);
  EXPECT_EQ(cfg[6] | cfg[7] << 8, VIRTIO_NET_S_LINK_UP);
  EXPECT_EQ(cfg[8] | cfg[9] << 8, 1);
  uint8_t past[4];
  dev->read_config(NetDevice::kConfigSize - 2, past);
  EXPECT_EQ(past[2], 0);
  EXPECT_EQ(past[3], 0);
  const uint8_t junk[6] = {1, 2, 3, 4, 5, 6};
  dev->write_config(0, junk);  // read-only
  dev->read_config(0, cfg);
  EXPECT_EQ(MacAddress::from_bytes(cfg), kOwn);
}

TEST_F(NetDeviceTest, FeatureDependencies) {
  EXPECT_TRUE(dev->accept_features(kMrg));
  EXPECT_FALSE(dev->accept_features(feature_bit(VIRTIO_NET_F_CTRL_RX))) << "needs CTRL_VQ";
  EXPECT_FALSE(dev->accept_features(feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX_EXTRA)));
  EXPECT_FALSE(dev->accept_features(feature_bit(VIRTIO_NET_F_GUEST_TSO4))) << "needs GUEST_CSUM";
  EXPECT_FALSE(dev->accept_features(feature_bit(VIRTIO_NET_F_HOST_TSO4))) << "needs CSUM";
  EXPECT_FALSE(dev->accept_features(feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_HOST_ECN)));
  EXPECT_FALSE(dev->accept_features(feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_MQ)))
      << "not offered with one pair";
  EXPECT_FALSE(dev->accept_features(feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_MAC_ADDR)))
      << "not offered with mac-change=off";
}

class NetDeviceMacChangeTest : public NetDeviceTest {
 protected:
  NetDeviceMacChangeTest() : NetDeviceTest(1, true) {}
};

TEST_F(NetDeviceMacChangeTest, MacAddrSetUpdatesConfigAndFilter) {
  ASSERT_TRUE(has_feature(dev->device_features(), VIRTIO_NET_F_CTRL_MAC_ADDR));
  ASSERT_TRUE(activate(kBase | feature_bit(VIRTIO_NET_F_CTRL_MAC_ADDR)));
  EXPECT_EQ(command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, Bytes(kOther.bytes.begin(), kOther.bytes.end())),
            VIRTIO_NET_OK);
  uint8_t cfg[6];
  dev->read_config(0, cfg);
  EXPECT_EQ(MacAddress::from_bytes(cfg), kOther);
  EXPECT_EQ(dev->query_rx_filter().filter.mac, kOther);
  EXPECT_EQ(events.config_changed, 1) << "config_generation moves with the MAC";
  dev->reset();
  dev->read_config(0, cfg);
  EXPECT_EQ(MacAddress::from_bytes(cfg), kOwn) << "reset restores the configured MAC";
}

// ---- Transmit -------------------------------------------------------------------

TEST_F(NetDeviceTest, TransmitsAFrame) {
  ASSERT_TRUE(activate(kBase));
  EXPECT_EQ(host->header_size, 12);
  const auto frame = frame_to(kOther);
  send_tx(frame);
  auto sent = host_read();
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->size(), 12 + frame.size());
  EXPECT_EQ(Bytes(sent->begin() + 12, sent->end()), frame);
  EXPECT_EQ(Bytes(sent->begin(), sent->begin() + 12), Bytes(12, 0));
  auto used = tx().next_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 0u);
  EXPECT_EQ(events.used, std::vector<uint16_t>{1});
  const auto c = dev->counters();
  EXPECT_EQ(c.tx_packets, 1u);
  EXPECT_EQ(c.tx_bytes, frame.size());
}

TEST_F(NetDeviceTest, TransmitSanitizesTheHeader) {
  ASSERT_TRUE(activate(kBase));
  NetHeader h;
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
  h.csum_start = 34;
  h.csum_offset = 6;
  h.hdr_len = 0xffff;
  send_tx(frame_to(kOther), h);
  auto sent = host_read();
  ASSERT_TRUE(sent);
  const NetHeader out = decode_net_header(std::span(*sent).first(12));
  EXPECT_EQ(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  EXPECT_EQ(out.hdr_len, 0);
  EXPECT_EQ(out.csum_start, 34);
}

TEST_F(NetDeviceTest, TransmitDropsFramesAbove64KiB) {
  ASSERT_TRUE(activate(kBase));
  Bytes big = frame_to(kOther);
  big.resize(NetDevice::kMaxTxFrameBytes + 1);
  send_tx(big);
  EXPECT_FALSE(host_read());
  EXPECT_TRUE(tx().next_used()) << "returned to the driver";
  EXPECT_EQ(dev->counters().tx_dropped_too_big, 1u);
  big.resize(NetDevice::kMaxTxFrameBytes);
  send_tx(big);
  const auto sent = host_read();
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->size(), header_size() + NetDevice::kMaxTxFrameBytes);
  EXPECT_EQ(dev->counters().tx_packets, 1u);
  EXPECT_EQ(events.needs_reset, 0);
}

TEST_F(NetDeviceTest, TransmitDropsMalformedPackets) {
  ASSERT_TRUE(activate(kBase));
  NetHeader gso;
  gso.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  gso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;  // HOST_TSO4 not negotiated
  gso.gso_size = 1000;
  send_tx(frame_to(kOther), gso);
  NetHeader out_of_packet;
  out_of_packet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  out_of_packet.csum_start = 59;
  out_of_packet.csum_offset = 1;
  send_tx(frame_to(kOther), out_of_packet);
  // A chain shorter than the header.
  tx().send({{tx().put_bytes(Bytes(5, 0)), 5, false}});
  dev->queue_notify(1);
  EXPECT_FALSE(host_read());
  int returned = 0;
  while (tx().next_used()) ++returned;
  EXPECT_EQ(returned, 3) << "dropped packets are still returned to the driver";
  EXPECT_EQ(dev->counters().tx_dropped_header, 3u);
  EXPECT_EQ(events.needs_reset, 0);
}

// mac-lock=on: only frames from the NIC's current MAC reach the TAP.
class NetDeviceMacLockTest : public NetDeviceTest {
 protected:
  explicit NetDeviceMacLockTest(bool mac_change = false) : NetDeviceTest(1, mac_change, true) {}
  // Sends `frame` and says whether it reached the host; the chain goes back
  // to the driver either way.
  bool transmitted(const Bytes& frame) {
    send_tx(frame);
    EXPECT_TRUE(tx().next_used()) << "returned to the driver";
    return host_read().has_value();
  }
};

TEST_F(NetDeviceMacLockTest, DropsAndCountsSpoofedFrames) {
  ASSERT_TRUE(activate(kBase));
  EXPECT_FALSE(transmitted(frame_from(kOther, kOwn)));
  EXPECT_FALSE(transmitted(frame_to(kOther))) << "frame_to's fixed source is not the NIC's";
  EXPECT_TRUE(transmitted(frame_from(kOwn, kOther)));
  const auto c = dev->counters();
  EXPECT_EQ(c.tx_dropped_spoofed, 2u);
  EXPECT_EQ(c.tx_packets, 1u);
  EXPECT_EQ(c.tx_dropped_header, 0u);
  EXPECT_EQ(events.needs_reset, 0);
}

// A frame too short to hold a source address is refused, and the check reads
// only what the chain holds (ASan would see a read past it).
TEST_F(NetDeviceMacLockTest, FramesShorterThanTheAddressesAreDropped) {
  ASSERT_TRUE(activate(kBase));
  const Bytes own = frame_from(kOwn, kOther);
  for (size_t len : {size_t{0}, size_t{1}, size_t{6}, size_t{11}}) {
    Bytes hdr(header_size());
    std::vector<FakeBuffer> segments{{tx().put_bytes(hdr), static_cast<uint32_t>(hdr.size()), false}};
    if (len > 0)
      segments.push_back({tx().put_bytes(Bytes(own.begin(), own.begin() + len)), static_cast<uint32_t>(len), false});
    tx().send(segments);
    dev->queue_notify(1);
    EXPECT_TRUE(tx().next_used()) << len;
    EXPECT_FALSE(host_read()) << len << " bytes";
  }
  EXPECT_EQ(dev->counters().tx_dropped_spoofed, 4u);
  // The source address split across descriptors still counts as the NIC's.
  Bytes hdr(header_size());
  tx().send({{tx().put_bytes(hdr), static_cast<uint32_t>(hdr.size()), false},
             {tx().put_bytes(Bytes(own.begin(), own.begin() + 8)), 8, false},
             {tx().put_bytes(Bytes(own.begin() + 8, own.end())), static_cast<uint32_t>(own.size() - 8), false}});
  dev->queue_notify(1);
  EXPECT_TRUE(tx().next_used());
  EXPECT_TRUE(host_read());
  EXPECT_EQ(events.needs_reset, 0);
}

class NetDeviceMacLockChangeTest : public NetDeviceMacLockTest {
 protected:
  NetDeviceMacLockChangeTest() : NetDeviceMacLockTest(true) {}
};

TEST_F(NetDeviceMacLockChangeTest, FollowsAnAllowedMacChange) {
  ASSERT_TRUE(activate(kBase | feature_bit(VIRTIO_NET_F_CTRL_MAC_ADDR)));
  EXPECT_TRUE(transmitted(frame_from(kOwn, kOther)));
  ASSERT_EQ(command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, Bytes(kOther.bytes.begin(), kOther.bytes.end())),
            VIRTIO_NET_OK);
  EXPECT_TRUE(transmitted(frame_from(kOther, kOwn))) << "the new MAC";
  EXPECT_FALSE(transmitted(frame_from(kOwn, kOther))) << "the old MAC";
  EXPECT_EQ(dev->counters().tx_dropped_spoofed, 1u);
  EXPECT_EQ(dev->counters().tx_packets, 2u);
}

// Without mac-change the guest cannot move the lock.
TEST_F(NetDeviceMacLockTest, RefusedMacChangeKeepsTheConfiguredMac) {
  ASSERT_TRUE(activate(kBase));
  EXPECT_EQ(command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, Bytes(kOther.bytes.begin(), kOther.bytes.end())),
            VIRTIO_NET_ERR);
  EXPECT_FALSE(transmitted(frame_from(kOther, kOwn)));
  EXPECT_TRUE(transmitted(frame_from(kOwn, kOther)));
}

TEST_F(NetDeviceTest, MacLockOffSendsAnySource) {
  ASSERT_TRUE(activate(kBase));
  for (const auto& frame : {frame_from(kOther, kOwn), frame_from(kOwn, kOther), Bytes(5, 0)}) {
    send_tx(frame);
    auto sent = host_read();
    ASSERT_TRUE(sent);
    EXPECT_EQ(Bytes(sent->begin() + static_cast<ptrdiff_t>(header_size()), sent->end()), frame);
  }
  EXPECT_EQ(dev->counters().tx_packets, 3u);
  EXPECT_EQ(dev->counters().tx_dropped_spoofed, 0u);
}

TEST_F(NetDeviceTest, TransmitResumesWhenTheBackendDrains) {
  ASSERT_TRUE(activate(kBase));
  // A tiny send buffer and a peer that reads nothing at first: the
  // device's writes hit EAGAIN.
  const int small = 4096;
  ASSERT_EQ(::setsockopt(host->device_fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  const auto frame = frame_to(kOther, std::nullopt, 1400);
  int sent = 0;
  for (int i = 0; i < 25; ++i) {  // 50 of the driver's 64 descriptors
    send_tx(frame);
    ++sent;
  }
  int returned = 0;
  while (tx().next_used()) ++returned;
  ASSERT_LT(returned, sent) << "the backend should have pushed back";
  int received = 0;
  for (int round = 0; round < 100 && received < sent; ++round) {
    while (host_read()) ++received;
    poll();
  }
  while (tx().next_used()) ++returned;
  EXPECT_EQ(received, sent);
  EXPECT_EQ(returned, sent);
  EXPECT_EQ(dev->counters().tx_packets, static_cast<uint64_t>(sent));
}

TEST_F(NetDeviceTest, BrokenTransmitQueueNeedsReset) {
  ASSERT_TRUE(activate(kBase));
  tx().send({{100 * kMiB, 64, false}});  // outside guest RAM
  dev->queue_notify(1);
  EXPECT_EQ(events.needs_reset, 1);
  EXPECT_FALSE(host_read());
}

// ---- Receive --------------------------------------------------------------------

TEST_F(NetDeviceTest, ReceivesAFrame) {
  ASSERT_TRUE(activate(kBase));
  const uint64_t buf = post_rx();
  const auto frame = frame_to(kOwn);
  inject(frame);
  poll();
  auto used = rx().next_used();
  ASSERT_TRUE(used);
  ASSERT_EQ(used->len, 12 + frame.size());
  const auto got = rx().get_bytes(buf, used->len);
  EXPECT_EQ(Bytes(got.begin() + 12, got.end()), frame);
  EXPECT_EQ(decode_net_header(std::span(got).first(12)).num_buffers, 1);
  EXPECT_EQ(events.used, std::vector<uint16_t>{0});
  EXPECT_EQ(dev->counters().rx_packets, 1u);
}

// A backend that fails for good (a TAP deleted under the VMM reads EBADFD
// and polls EPOLLERR forever; here the peer closes, so reads return 0) must
// not spin the event loop: it is retried with a growing pause.
TEST_F(NetDeviceTest, ALastingReadFailureBacksOffInsteadOfSpinning) {
  ASSERT_TRUE(activate(kBase));
  post_rx();
  poll();
  host->host_fds[0].reset();
  const auto start = std::chrono::steady_clock::now();
  size_t handlers = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(400)) {
    io.restart();
    handlers += io.run_for(std::chrono::milliseconds(50));
  }
  // Retries after 10, 20, 40, 80 and 160 ms fit in 400 ms: a handful of
  // failures, where a loop re-armed at once makes hundreds of thousands.
  const uint64_t errors = dev->counters().rx_errors;
  EXPECT_GE(errors, 3u);
  EXPECT_LE(errors, 8u);
  EXPECT_LE(handlers, 20u);
  EXPECT_EQ(dev->counters().rx_packets, 0u);
}

TEST_F(NetDeviceTest, StarvedReceiveWaitsForTheKickWithoutLosingIt) {
  ASSERT_TRUE(activate(kBase));
  inject(frame_to(kOwn));
  inject(frame_to(kOwn, std::nullopt, 100));
  poll();
  EXPECT_FALSE(rx().next_used());
  EXPECT_EQ(rx().used_flags() & split_ring::kUsedNoNotify, 0) << "the device asked for a kick";
  poll();  // nothing happens while starved (the fd is not watched)
  post_rx();
  post_rx();
  dev->queue_notify(0);
  auto first = rx().next_used();
  auto second = rx().next_used();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->len, 12 + 60u);
  EXPECT_EQ(second->len, 12 + 114u);
  EXPECT_EQ(dev->counters().rx_packets, 2u);
}

TEST_F(NetDeviceTest, ReceiveFilterDropsAndCounts) {
  ASSERT_TRUE(activate(kBase));
  post_rx();
  post_rx();
  // Before the guest sets a filter the device is promiscuous.
  inject(frame_to(kOther));
  poll();
  EXPECT_TRUE(rx().next_used());
  ASSERT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
  ASSERT_FALSE(host->filters.empty());
  EXPECT_EQ(host->filters.back(), (HostFilter{HostRxLevel::None, {kOwn}, {MacAddress::broadcast()}}));
  inject(frame_to(kOther));
  inject(frame_to(mac("01:00:5e:00:00:01")));
  inject(frame_to(kOwn));
  poll();
  auto used = rx().next_used();
  ASSERT_TRUE(used);
  EXPECT_FALSE(rx().next_used());
  const auto c = dev->counters();
  EXPECT_EQ(c.rx_filtered[static_cast<size_t>(RxVerdict::DropUnicast)], 1u);
  EXPECT_EQ(c.rx_filtered[static_cast<size_t>(RxVerdict::DropMulticast)], 1u);
  EXPECT_EQ(c.rx_filtered_total(), 2u);
  const auto report = dev->query_rx_filter();
  EXPECT_FALSE(report.filter.promisc);
  EXPECT_EQ(report.wanted.level, HostRxLevel::None);
  EXPECT_EQ(report.installed, report.wanted);
  EXPECT_TRUE(report.ctrl_rx);
}

TEST_F(NetDeviceTest, ReceiveContinuesAfterItsBudgetWithoutNewTraffic) {
  ASSERT_TRUE(activate(kBase));
  ASSERT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
  const int big = 1 << 20;
  ASSERT_EQ(::setsockopt(host->host_fds[0].get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
  post_rx();
  // More frames than one turn reads (all filtered), then one for us;
  // nothing new arrives after these.
  for (int i = 0; i < 300; ++i) inject(frame_to(kOther));
  inject(frame_to(kOwn));
  for (int i = 0; i < 10 && !rx().next_used(); ++i) poll();
  EXPECT_EQ(dev->counters().rx_filtered_total(), 300u);
  EXPECT_EQ(dev->counters().rx_packets, 1u);
}

TEST_F(NetDeviceTest, ReceiveCompletesChecksumsWhenTheGuestTurnedCsumOff) {
  ASSERT_TRUE(activate(kBase));
  Bytes off(8, 0);
  ASSERT_EQ(command(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, off), VIRTIO_NET_OK);
  EXPECT_EQ(host->offloads, 0u);
  const uint64_t buf = post_rx();
  auto frame = frame_to(kOwn);
  NetHeader h;
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.csum_start = 34;
  h.csum_offset = 6;
  inject(frame, h);
  poll();
  auto used = rx().next_used();
  ASSERT_TRUE(used);
  const auto got = rx().get_bytes(buf, used->len);
  EXPECT_EQ(got[0], 0) << "no NEEDS_CSUM for a guest without GUEST_CSUM";
  ASSERT_TRUE(finish_checksum(frame, 34, 6));
  EXPECT_EQ(Bytes(got.begin() + 12, got.end()), frame);
}

TEST_F(NetDeviceTest, ReceiveDropsWhatTheGuestCannotTake) {
  ASSERT_TRUE(activate(kBase));
  post_rx(100);
  NetHeader gso;
  gso.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  gso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;  // GUEST_TSO4 not negotiated
  gso.gso_size = 1000;
  gso.csum_start = 34;
  gso.csum_offset = 16;
  inject(frame_to(kOwn), gso);
  inject(frame_to(kOwn, std::nullopt, 200));  // larger than the 100-byte buffer
  inject(frame_to(kOwn));
  poll();
  auto used = rx().next_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 72u);
  const auto c = dev->counters();
  EXPECT_EQ(c.rx_dropped_header, 1u);
  EXPECT_EQ(c.rx_dropped_too_big, 1u);
}

TEST_F(NetDeviceTest, MergeableBuffersSpanChains) {
  ASSERT_TRUE(activate(kMrg));
  const uint64_t a = post_rx(64);
  const uint64_t b = post_rx(64);
  const auto frame = frame_to(kOwn, std::nullopt, 86);  // 100 bytes + 12 header = 112
  inject(frame);
  poll();
  auto first = rx().next_used();
  auto second = rx().next_used();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->len, 64u);
  EXPECT_EQ(second->len, 48u);
  auto bytes = rx().get_bytes(a, 64);
  const auto tail = rx().get_bytes(b, 48);
  EXPECT_EQ(decode_net_header(std::span(bytes).first(12)).num_buffers, 2);
  bytes.insert(bytes.end(), tail.begin(), tail.end());
  EXPECT_EQ(Bytes(bytes.begin() + 12, bytes.end()), frame);
  EXPECT_EQ(events.used, std::vector<uint16_t>{0}) << "one interrupt for the frame";
}

TEST_F(NetDeviceTest, MergeableFrameWaitsForEnoughBuffers) {
  ASSERT_TRUE(activate(kMrg));
  post_rx(64);
  inject(frame_to(kOwn, std::nullopt, 86));
  poll();
  EXPECT_FALSE(rx().next_used());
  const auto saved = dev->save();
  ASSERT_EQ(saved.rx_held.size(), 1u);
  EXPECT_EQ(saved.rx_held[0].size(), 1u) << "the popped chain is part of the state";
  post_rx(64);
  dev->queue_notify(0);
  auto first = rx().next_used();
  auto second = rx().next_used();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->len + second->len, 112u);
  EXPECT_TRUE(dev->save().rx_held[0].empty());
}

TEST_F(NetDeviceTest, LegacyDriverUsesTenByteHeaders) {
  ASSERT_TRUE(activate(kBase & ~kVirtioFVersion1));
  EXPECT_EQ(host->header_size, 10);
  const uint64_t buf = post_rx();
  inject(frame_to(kOwn));
  poll();
  auto used = rx().next_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 10 + 60u);
  EXPECT_EQ(rx().get_bytes(buf + 10, 6), Bytes(kOwn.bytes.begin(), kOwn.bytes.end()));
}

TEST_F(NetDeviceTest, EventIdxSuppressesInterrupts) {
  ASSERT_TRUE(activate(kBase, true));
  for (int i = 0; i < 4; ++i) post_rx();
  inject(frame_to(kOwn));
  poll();
  EXPECT_EQ(events.used, std::vector<uint16_t>{0});
  rx().set_used_event(10);  // the driver wants no interrupt before the 11th buffer
  for (int i = 0; i < 3; ++i) inject(frame_to(kOwn));
  poll();
  int n = 0;
  while (rx().next_used()) ++n;
  EXPECT_EQ(n, 4);
  EXPECT_EQ(events.used.size(), 1u);
}

TEST_F(NetDeviceTest, ResetStopsTheDatapath) {
  ASSERT_TRUE(activate(kBase));
  post_rx();
  dev->reset();
  inject(frame_to(kOwn));
  poll();
  EXPECT_FALSE(rx().next_used());
  dev->queue_notify(1);  // ignored while inactive
  EXPECT_FALSE(dev->query_rx_filter().active);
}

TEST_F(NetDeviceTest, ResetWidensTheHostFilterAtOnce) {
  ASSERT_TRUE(activate(kBase));
  ASSERT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
  ASSERT_EQ(host->filters.back().level, HostRxLevel::None);
  dev->reset();
  // Before: the narrow filter stayed on the TAP until the next activation.
  ASSERT_FALSE(host->filters.empty());
  EXPECT_EQ(host->filters.back().level, HostRxLevel::All);
  EXPECT_EQ(dev->query_rx_filter().installed->level, HostRxLevel::All);
}

// ---- Control queue ----------------------------------------------------------------

TEST_F(NetDeviceTest, ControlCommandsAckAndCount) {
  ASSERT_TRUE(activate(kBase));
  int changes = 0;
  dev->set_rx_filter_listener([&](const std::string& name) {
    EXPECT_EQ(name, "net0");
    ++changes;
  });
  EXPECT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
  EXPECT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_ALLMULTI, true), VIRTIO_NET_OK);
  EXPECT_EQ(host->filters.back().level, HostRxLevel::Multicast);
  EXPECT_EQ(command(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, {0x00, 0x10}), VIRTIO_NET_ERR) << "vid 4096";
  EXPECT_EQ(command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, {1, 0}), VIRTIO_NET_ERR) << "no MQ";
  EXPECT_EQ(changes, 2);
  const auto c = dev->counters();
  EXPECT_EQ(c.ctrl_ok, 2u);
  EXPECT_EQ(c.ctrl_err, 2u);
  EXPECT_EQ(events.needs_reset, 0);
}

TEST_F(NetDeviceTest, ControlChainWithoutHeaderGetsErr) {
  ASSERT_TRUE(activate(kBase));
  const uint64_t status = ctrl().alloc(1);
  ctrl().send({{ctrl().put_bytes(Bytes{0}), 1, false}, {status, 1, true}});  // 1-byte header
  ctrl().send({{status, 1, true}});                                          // no readable part at all
  dev->queue_notify(2);
  auto a = ctrl().next_used();
  auto b = ctrl().next_used();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->len, 1u);
  EXPECT_EQ(ctrl().get_bytes(status, 1)[0], VIRTIO_NET_ERR);
  EXPECT_EQ(dev->counters().ctrl_malformed, 2u);
  EXPECT_EQ(events.needs_reset, 0);
}

TEST_F(NetDeviceTest, ExceptionInAHandlerSetsNeedsResetInsteadOfEndingTheVmm) {
  ASSERT_TRUE(activate(kBase));
  host->throw_on_filter = true;
  const uint64_t status = ctrl().alloc(1);
  const Bytes cmd = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0};
  ctrl().send({{ctrl().put_bytes(cmd), 3, false}, {status, 1, true}});
  dev->queue_notify(2);  // before the fix: the exception escaped to the event loop (std::terminate)
  EXPECT_EQ(events.needs_reset, 1);
  // The device lock was released: the device still answers.
  EXPECT_EQ(dev->counters().ctrl_ok, 0u);
  host->throw_on_filter = false;
  dev->queue_notify(2);
  EXPECT_EQ(events.needs_reset, 1);
}

TEST_F(NetDeviceTest, ControlChainWithoutStatusByteNeedsReset) {
  ASSERT_TRUE(activate(kBase));
  const Bytes cmd = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0};
  ctrl().send({{ctrl().put_bytes(cmd), 3, false}});
  dev->queue_notify(2);
  auto used = ctrl().next_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 0u);
  EXPECT_EQ(events.needs_reset, 1);
  EXPECT_TRUE(dev->query_rx_filter().filter.promisc) << "the command was not executed";
  // The device keeps working for well-formed commands.
  EXPECT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
}

TEST_F(NetDeviceTest, ControlQueueYieldsAfterItsBudgetAndContinues) {
  ASSERT_TRUE(activate(kBase));
  const uint64_t queued = NetDevice::kCtrlCommandsPerTurn + 8;
  for (uint64_t i = 0; i < queued; ++i) queue_command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, {uint8_t(i % 2)});
  dev->queue_notify(ctrl_index_);
  uint64_t done = 0;
  while (ctrl().next_used()) ++done;
  EXPECT_EQ(done, NetDevice::kCtrlCommandsPerTurn) << "one kick serves one budget";
  poll();  // the rest, from the event loop, without another kick
  while (ctrl().next_used()) ++done;
  EXPECT_EQ(done, queued);
  EXPECT_EQ(dev->counters().ctrl_ok, queued);
}

TEST_F(NetDeviceTest, OversizedControlCommandIsRefused) {
  ASSERT_TRUE(activate(kBase));
  Bytes data(NetDevice::kMaxCtrlCommandBytes, 0);  // + 2 header bytes: over the cap
  EXPECT_EQ(command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, data), VIRTIO_NET_ERR);
  EXPECT_EQ(dev->counters().ctrl_malformed, 1u);
}

TEST_F(NetDeviceTest, HostFilterFailureRollsBackAndAcksErr) {
  ASSERT_TRUE(activate(kBase));
  ASSERT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
  const auto before = dev->query_rx_filter();
  host->filter_results = {false, true};  // apply fails, rollback succeeds
  EXPECT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_ALLMULTI, true), VIRTIO_NET_ERR);
  const auto after = dev->query_rx_filter();
  EXPECT_EQ(after.filter, before.filter) << "the guest keeps its old filter";
  EXPECT_EQ(after.installed, before.installed);
  EXPECT_EQ(events.needs_reset, 0);
  host->filter_results = {false, false};  // and now the rollback fails too
  EXPECT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_ALLMULTI, true), VIRTIO_NET_ERR);
  EXPECT_EQ(events.needs_reset, 1);
  EXPECT_FALSE(dev->query_rx_filter().installed.has_value());
  EXPECT_EQ(dev->counters().host_filter_failures, 2u);
}

// Offloads and queue attachment follow the filter's rule: refused -> all
// three rolled back, ERR; rollback refused -> NEEDS_RESET.
TEST_F(NetDeviceTest, HostOffloadFailureRollsBackAndAcksErr) {
  ASSERT_TRUE(activate(kBase));
  ASSERT_EQ(host->offloads, feature_bit(VIRTIO_NET_F_GUEST_CSUM));
  host->offload_results = {false};
  const Bytes off(8, 0);
  EXPECT_EQ(command(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, off), VIRTIO_NET_ERR);
  EXPECT_EQ(dev->query_rx_filter().guest_offloads, feature_bit(VIRTIO_NET_F_GUEST_CSUM)) << "the guest keeps its state";
  EXPECT_EQ(host->offload_calls.back(), feature_bit(VIRTIO_NET_F_GUEST_CSUM)) << "rolled back";
  EXPECT_EQ(dev->counters().host_filter_failures, 1u);
  EXPECT_EQ(events.needs_reset, 0);
  host->offload_results = {false, false};
  EXPECT_EQ(command(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, off), VIRTIO_NET_ERR);
  EXPECT_EQ(events.needs_reset, 1);
  EXPECT_EQ(command(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, off), VIRTIO_NET_OK);
  EXPECT_EQ(host->offloads, 0u);
}

// A control command the driver queued before DRIVER_OK runs in activate();
// the filter change it makes is reported then, not at the next kick.
TEST_F(NetDeviceTest, FilterChangeDuringActivationIsReportedAtOnce) {
  int reported = 0;
  dev->set_rx_filter_listener([&reported](const std::string&) { ++reported; });
  attach_queues(kBase);
  const uint64_t status = queue_command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, {0});
  ASSERT_TRUE(driver_ok());
  ASSERT_TRUE(ctrl().next_used());
  EXPECT_EQ(ctrl().get_bytes(status, 1)[0], VIRTIO_NET_OK);
  EXPECT_FALSE(dev->query_rx_filter().filter.promisc);
  EXPECT_EQ(reported, 1);
}

TEST_F(NetDeviceTest, AnnounceSetsStatusUntilAcked) {
  ASSERT_TRUE(activate(kBase));
  ASSERT_TRUE(dev->announce());
  EXPECT_EQ(events.config_changed, 1);
  uint8_t status[2];
  dev->read_config(6, status);
  EXPECT_EQ(status[0], VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
  EXPECT_EQ(command(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, {}), VIRTIO_NET_OK);
  dev->read_config(6, status);
  EXPECT_EQ(status[0], VIRTIO_NET_S_LINK_UP);
  EXPECT_EQ(events.config_changed, 2) << "the ack changed the status field";
  dev->set_link_up(false);
  dev->read_config(6, status);
  EXPECT_EQ(status[0], 0);
  EXPECT_EQ(events.config_changed, 3);
  dev->set_link_up(false);
  EXPECT_EQ(events.config_changed, 3) << "no change, no notification";
}

// ---- Migration ------------------------------------------------------------------

TEST_F(NetDeviceTest, SaveRestoreRoundTrip) {
  ASSERT_TRUE(activate(kMrg));
  ASSERT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
  Bytes table = {1, 0, 0, 0};
  const auto uni = mac("52:54:00:00:00:07");
  table.insert(table.end(), uni.bytes.begin(), uni.bytes.end());
  table.insert(table.end(), {1, 0, 0, 0, 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01});
  ASSERT_EQ(command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table), VIRTIO_NET_OK);
  ASSERT_EQ(command(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, {5, 0}), VIRTIO_NET_OK);
  const auto saved = dev->save();
  EXPECT_TRUE(saved.active);
  EXPECT_EQ(saved.features, kMrg);
  EXPECT_TRUE(std::holds_alternative<NetDevice::ValidState>(dev->validate(saved)));

  // A second device restored before its (re-)activation adopts the state.
  auto backend = std::make_unique<test::SocketPairBackend>(1);
  auto host2 = backend->shared();
  NetDeviceOptions opts;
  opts.mac = kOwn;
  auto dev2 = NetDevice::create(opts, std::move(backend), io);
  ASSERT_EQ(dev2->restore(saved), std::nullopt);
  std::vector<Queue> queues2;
  for (int i = 0; i < 3; ++i) queues2.emplace_back(256, "q");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queues2[i].restore(queues[i].save(), mem));
  ASSERT_TRUE(dev2->activate({kMrg, &mem, std::span<Queue>(queues2)}));
  EXPECT_EQ(dev2->save(), saved);
  EXPECT_EQ(host2->filters.back(), compute_host_filter(saved.control.rx_filter, true))
      << "the host filter is recomputed from the restored state";
  EXPECT_EQ(dev2->query_rx_filter().filter, dev->query_rx_filter().filter);
}

TEST_F(NetDeviceTest, RestoreIntoAnActiveDevice) {
  ASSERT_TRUE(activate(kBase));
  auto state = dev->save();
  state.control.rx_filter.promisc = false;
  state.control.rx_filter.allmulti = true;
  ASSERT_EQ(dev->restore(state), std::nullopt);
  EXPECT_EQ(dev->save(), state);
  EXPECT_EQ(host->filters.back().level, HostRxLevel::Multicast);
  auto other = state;
  other.features = kBase & ~feature_bit(VIRTIO_NET_F_CTRL_VLAN);
  other.control.rx_filter.vlan_filtering = false;
  EXPECT_NE(dev->restore(other), std::nullopt) << "features differ from the active device's";
}

// Issue 13: a restored state whose host side the host refuses fails the
// restore (and with it the import) instead of being logged and adopted.
TEST_F(NetDeviceTest, RestoreFailsWhenTheHostRefusesItsSide) {
  ASSERT_TRUE(activate(kBase));
  ASSERT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
  const auto saved = dev->save();

  struct Refusal {
    const char* name;
    std::function<void(test::SocketPairBackend::Shared&)> script;
  };
  for (const Refusal& r : {
           Refusal{"filter",
                   [](auto& h) {
                     h.filter_results = {false, true};
                   }},
           Refusal{"offloads",
                   [](auto& h) {
                     h.offload_results = {false, true};
                   }},
           Refusal{"queue attach",
                   [](auto& h) {
                     h.queue_results = {false, true};
                   }},
           Refusal{"header size", [](auto& h) { h.refuse_header_size = true; }},
       }) {
    SCOPED_TRACE(r.name);
    // A fresh destination device, restored before its activation.
    auto backend = std::make_unique<test::SocketPairBackend>(1);
    auto host2 = backend->shared();
    NetDeviceOptions opts;
    opts.mac = kOwn;
    auto dev2 = NetDevice::create(opts, std::move(backend), io);
    r.script(*host2);
    const auto refusal = dev2->restore(saved);
    ASSERT_TRUE(refusal.has_value()) << "before the fix: kept, and the activation only logged the refusal";
    EXPECT_NE(refusal->find("fake-tap refused"), std::string::npos) << *refusal;
    EXPECT_EQ(dev2->save(), NetDevice::State{}) << "nothing restored";
    if (!host2->filters.empty()) {
      EXPECT_EQ(host2->filters.back(), HostFilter{}) << "rolled back to the reset filter";
    }
    // The activation the transport's restore would make starts from the reset state.
    std::vector<Queue> queues2;
    for (int i = 0; i < 3; ++i) queues2.emplace_back(256, "q");
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(queues2[i].restore(queues[i].save(), mem));
    host2->refuse_header_size = false;
    ASSERT_TRUE(dev2->activate({kBase, &mem, std::span<Queue>(queues2)}));
    EXPECT_TRUE(dev2->query_rx_filter().filter.promisc) << "the saved state was not kept for later";
  }

  // Into an active device: refused, and the device keeps its state.
  auto state = saved;
  state.control.rx_filter.allmulti = true;
  host->filter_results = {false, true};
  const auto refusal = dev->restore(state);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(dev->save(), saved);
  EXPECT_EQ(dev->query_rx_filter().installed, compute_host_filter(saved.control.rx_filter, true));
  EXPECT_EQ(events.needs_reset, 0);
  host->filter_results = {false, false};  // the rollback fails too: the device needs a reset
  EXPECT_TRUE(dev->restore(state).has_value());
  EXPECT_EQ(events.needs_reset, 1);
  EXPECT_EQ(dev->save(), saved);
}

TEST_F(NetDeviceTest, RestoreRejectsInvalidState) {
  ASSERT_TRUE(activate(kMrg));
  const auto good = dev->save();
  ASSERT_TRUE(std::holds_alternative<NetDevice::ValidState>(dev->validate(good)));
  std::vector<std::pair<std::string, std::function<void(NetDevice::State&)>>> corruptions = {
      {"feature not offered", [](auto& s) { s.features |= feature_bit(VIRTIO_NET_F_MQ); }},
      {"broken dependency", [](auto& s) { s.features &= ~feature_bit(VIRTIO_NET_F_CTRL_VQ); }},
      {"bad control state", [](auto& s) { s.control.queue_pairs = 2; }},
      {"bad filter", [](auto& s) { s.control.rx_filter.multicast.push_back(kOther); }},
      {"held list count", [](auto& s) { s.rx_held.emplace_back(); }},
      {"held head out of range", [](auto& s) { s.rx_held[0].push_back(256); }},
      {"held without MRG",
       [](auto& s) {
         s.features &= ~feature_bit(VIRTIO_NET_F_MRG_RXBUF);
         s.rx_held[0].push_back(1);
       }},
      {"inactive with fields", [](auto& s) { s.active = false; }},
      {"inactive with queue pairs out of range",
       [](auto& s) {
         s = NetDevice::State{};
         s.control.queue_pairs = 0;
       }},
  };
  for (const auto& [name, corrupt] : corruptions) {
    auto s = good;
    corrupt(s);
    EXPECT_TRUE(std::holds_alternative<std::string>(dev->validate(s))) << name;
    EXPECT_NE(dev->restore(s), std::nullopt) << name;
    EXPECT_EQ(dev->save(), good) << name << ": nothing changed";
  }
}

TEST_F(NetDeviceTest, RefusesActivationTheBackendCannotServe) {
  host->refuse_header_size = true;
  EXPECT_FALSE(activate(kBase));
}

// ---- Multi-queue ------------------------------------------------------------------

class NetDeviceMqTest : public NetDeviceTest {
 protected:
  NetDeviceMqTest() : NetDeviceTest(2) {}
};

constexpr uint64_t kMq = kBase | feature_bit(VIRTIO_NET_F_MQ) | feature_bit(VIRTIO_NET_F_RSS);

TEST_F(NetDeviceMqTest, QueuePairsAndControlQueueIndex) {
  EXPECT_TRUE(has_feature(dev->device_features(), VIRTIO_NET_F_MQ));
  EXPECT_EQ(dev->num_queues(), 5);
  ASSERT_TRUE(activate(kMq));
  EXPECT_EQ(ctrl_index_, 4);
  EXPECT_EQ(host->queue_enables.back(), (std::pair<uint16_t, bool>{1, false})) << "one pair until VQ_PAIRS_SET";
  post_rx(2048, 1);
  inject(frame_to(kOwn), {}, 1);
  poll();
  EXPECT_FALSE(rx(1).next_used()) << "queue pair 2 is not enabled yet";
  EXPECT_EQ(dev->counters().rx_dropped_no_queue, 1u);
  EXPECT_EQ(command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, {2, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(host->queue_enables.back(), (std::pair<uint16_t, bool>{1, true}));
  // Frames arriving on the second backend queue land in the second receive queue.
  post_rx(2048, 1);
  inject(frame_to(kOwn), {}, 1);
  poll();
  EXPECT_TRUE(rx(1).next_used());
  EXPECT_FALSE(rx(0).next_used());
}

TEST_F(NetDeviceMqTest, QueueAttachIssuesOnlyRealTransitions) {
  using Calls = std::vector<std::pair<uint16_t, bool>>;
  ASSERT_TRUE(activate(kMq));
  EXPECT_EQ(host->queue_enables, (Calls{{0, true}, {1, false}})) << "unknown at first: every queue is set";
  host->queue_enables.clear();
  ASSERT_EQ(command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, {2, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(host->queue_enables, (Calls{{1, true}})) << "queue 0 was attached already";
  ASSERT_EQ(command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, {1, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(host->queue_enables, (Calls{{1, true}, {1, false}}));
  // A reset and a new activation with the same pairs changes nothing on the host.
  dev->reset();
  host->queue_enables.clear();
  ASSERT_TRUE(driver_ok());
  EXPECT_TRUE(host->queue_enables.empty());
}

TEST_F(NetDeviceMqTest, QueueAttachFailureRollsBackAndAcksErr) {
  ASSERT_TRUE(activate(kMq));
  host->queue_enables.clear();
  host->queue_results = {false};
  EXPECT_EQ(command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, {2, 0}), VIRTIO_NET_ERR);
  EXPECT_EQ(dev->query_rx_filter().queue_pairs, 1);
  EXPECT_EQ(host->queue_enables,
            (std::vector<std::pair<uint16_t, bool>>{{1, true}, {1, false}}));  // refused, then undone
  EXPECT_EQ(events.needs_reset, 0);
  EXPECT_EQ(command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, {2, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(host->queue_enables.back(), (std::pair<uint16_t, bool>{1, true}));
}

TEST_F(NetDeviceMqTest, ControlQueueIsIndexTwoWithoutMq) {
  ASSERT_TRUE(activate(kBase));
  EXPECT_EQ(ctrl_index_, 2);
  EXPECT_EQ(rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false), VIRTIO_NET_OK);
}

TEST_F(NetDeviceMqTest, RssSteersFramesByHash) {
  ASSERT_TRUE(activate(kMq));
  // Every hash goes to queue 1.
  Bytes cfg;
  auto le16 = [&cfg](uint16_t v) {
    cfg.push_back(static_cast<uint8_t>(v));
    cfg.push_back(static_cast<uint8_t>(v >> 8));
  };
  const uint32_t types = VIRTIO_NET_RSS_HASH_TYPE_IPv4;
  for (int i = 0; i < 4; ++i) cfg.push_back(static_cast<uint8_t>(types >> (8 * i)));
  le16(1);  // mask: 2 entries
  le16(0);  // unclassified -> queue 0
  le16(1);
  le16(1);
  le16(2);  // max_tx_vq
  cfg.push_back(40);
  for (int i = 0; i < 40; ++i) cfg.push_back(static_cast<uint8_t>(i * 13 + 1));
  ASSERT_EQ(command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg), VIRTIO_NET_OK);
  post_rx(2048, 0);
  post_rx(2048, 1);
  // An IPv4 frame (hashed: queue 1) and a non-IP one (unclassified: queue 0),
  // both arriving on backend queue 0.
  Bytes ip = frame_to(kOwn);
  ip[14] = 0x45;
  inject(ip);
  Bytes arp = frame_to(kOwn);
  arp[12] = 0x08;
  arp[13] = 0x06;
  inject(arp);
  poll();
  EXPECT_TRUE(rx(1).next_used());
  EXPECT_TRUE(rx(0).next_used());
}

}  // namespace
}  // namespace wren
