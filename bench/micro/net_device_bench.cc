// Wren's datapath: a NetDevice on the guest TAP, driven by a fake guest
// whose rings live in a GuestMemory, with the features a Linux guest
// negotiates (VERSION_1, EVENT_IDX, indirect descriptors, MRG_RXBUF,
// CTRL_RX in non-promiscuous mode, checksum and TSO offloads both ways).
//
// TX: the guest publishes `batch` chains (small frames: header + frame in
// one descriptor, as Linux sends them; TSO frames: an indirect chain of
// header + 15 4 KiB pages, as an skb with page fragments) and kicks; the
// device walks them, checks the headers, writes the frames to the TAP, fills
// the used ring and decides whether to interrupt. The peer then reads them.
// RX: the peer writes `batch` frames; the device wakes on the event loop,
// reads them, filters, translates the header, copies them into the guest's
// 4 KiB mergeable buffers, fills the used ring and decides whether to
// interrupt. The guest then re-posts the buffers.
// An interrupt is an eventfd write, what an irqfd costs the VMM.
#include "virtio/net/virtio_net_abi.h"

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/micro/bench_frames.h"
#include "bench/micro/benchmarks.h"
#include "bench/micro/frame_path.h"
#include "bench/micro/tap_pair.h"
#include "hypervisor/event_fd.h"
#include "unit/virtio/fake_driver.h"
#include "virtio/net/net_device.h"

namespace wren::bench {

namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint16_t kQueueSize = kGuestQueueSize;
constexpr uint32_t kRxBufferSize = kGuestRxBufferSize;
constexpr uint32_t kPageSize = 4096;
constexpr uint16_t kRxQueue = 0, kTxQueue = 1, kCtrlQueue = 2;

struct IrqfdEvents : VirtioTransportEvents {
  void signal_used(uint16_t) override {
    irqfd.signal();
    ++interrupts;
  }
  void signal_config_changed() override {}
  void set_needs_reset() override { ++needs_reset; }
  EventFd irqfd;
  uint64_t interrupts = 0;
  int needs_reset = 0;
};

// A guest with one NIC on the guest TAP.
class FakeGuest {
 public:
  explicit FakeGuest(TapPair& pair)
      : mem_({{0, 8 * kMiB}, {8 * kMiB, 8 * kMiB}, {16 * kMiB, kMiB}}),
        rx_(mem_, kQueueSize, 0),
        tx_(mem_, kQueueSize, 8 * kMiB),
        ctrl_(mem_, 64, 16 * kMiB) {
    for (int i = 0; i < 3; ++i) queues_.emplace_back(kQueueSize, "q" + std::to_string(i));
    rx_.attach(queues_[kRxQueue], true);
    tx_.attach(queues_[kTxQueue], true);
    ctrl_.attach(queues_[kCtrlQueue], true);
    NetDeviceOptions options;
    options.mac = kGuestMac;
    options.queue_size = kQueueSize;
    device_ = NetDevice::create(options, pair.borrow_guest(), io_);
    device_->bind_transport(&events_);
  }

  // Negotiates like Linux, enters non-promiscuous mode, posts every receive
  // buffer. Empty on success, else what failed.
  std::string start() {
    uint64_t wanted = kVirtioFVersion1 | kVirtioFRingEventIdx | kVirtioFRingIndirectDesc;
    for (unsigned bit :
         {VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX,
          VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_GUEST_CSUM,
          VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS})
      wanted |= feature_bit(bit);
    const uint64_t features = wanted & device_->device_features();
    if (!has_feature(features, VIRTIO_NET_F_GUEST_TSO4)) return "the TAP cannot deliver TSO frames";
    if (!device_->activate({features, &mem_, std::span<Queue>(queues_)})) return "activation failed";

    const uint64_t status = ctrl_.alloc(1);
    const std::vector<uint8_t> promisc_off = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0};
    ctrl_.send({{ctrl_.put_bytes(promisc_off), 3, false}, {status, 1, true}});
    device_->queue_notify(kCtrlQueue);
    if (!ctrl_.next_used() || ctrl_.get_bytes(status, 1)[0] != VIRTIO_NET_OK) return "PROMISC off refused";

    for (uint16_t i = 0; i < kQueueSize; ++i) {
      const uint64_t gpa = rx_.alloc(kRxBufferSize, kPageSize);
      rx_buffers_.push_back(gpa);
      rx_.add_chain(std::vector<FakeBuffer>{{gpa, kRxBufferSize, true}});
      rx_.set_avail_entry(i, i);
    }
    rx_.set_avail_idx(kQueueSize);
    device_->queue_notify(kRxQueue);
    return "";
  }

  // TX chains for `batch` copies of `f`, published by transmit().
  void prepare_tx(const BenchFrame& f, int batch) {
    const auto joined = f.joined();
    for (int i = 0; i < batch; ++i) {
      const uint64_t gpa = tx_.put_bytes(joined);
      if (f.frame.size() <= kMaxPlainFrame) {
        tx_heads_.push_back(tx_.add_chain(std::vector<FakeBuffer>{{gpa, static_cast<uint32_t>(joined.size()), false}}));
        continue;
      }
      const uint32_t linear = static_cast<uint32_t>(kHeaderSize + 54);  // vnet + Ethernet/IPv4/TCP headers
      std::vector<FakeBuffer> buffers{{gpa, linear, false}};
      for (uint64_t at = linear; at < joined.size(); at += kPageSize)
        buffers.push_back({gpa + at, static_cast<uint32_t>(std::min<uint64_t>(kPageSize, joined.size() - at)), false});
      tx_heads_.push_back(tx_.add_indirect_chain(buffers));
    }
  }

  // Publishes the prepared chains and kicks. False if they did not all
  // come back used.
  bool transmit() {
    const uint16_t avail = tx_avail_;
    for (size_t i = 0; i < tx_heads_.size(); ++i) tx_.set_avail_entry(static_cast<uint16_t>(avail + i), tx_heads_[i]);
    tx_avail_ = static_cast<uint16_t>(avail + tx_heads_.size());
    std::atomic_thread_fence(std::memory_order_release);
    tx_.set_avail_idx(tx_avail_);
    device_->queue_notify(kTxQueue);
    return consume_used(tx_, tx_used_, tx_heads_.size(), nullptr);
  }

  // Runs the device until `buffers` receive buffers came back used, then
  // re-posts them. False after a second without progress.
  bool receive(size_t buffers) {
    const auto target = static_cast<uint16_t>(rx_used_ + buffers);
    while (rx_.used_idx() != target)
      if (io_.run_one_for(std::chrono::seconds(1)) == 0) return false;
    return consume_used(rx_, rx_used_, buffers, &rx_avail_);
  }

  // The first receive buffer of the last frame received.
  std::vector<uint8_t> last_rx_bytes(size_t buffers, size_t len) const {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < buffers; ++i) {
      const auto b = rx_.used_entry(static_cast<uint16_t>(rx_used_ - buffers + i));
      const auto part = rx_.get_bytes(rx_buffers_.at(b.id), b.len);
      out.insert(out.end(), part.begin(), part.end());
    }
    out.resize(std::min(out.size(), len));
    return out;
  }

  NetCounters counters() const { return device_->counters(); }
  uint64_t interrupts() const { return events_.interrupts; }
  int needs_reset() const { return events_.needs_reset; }

 private:
  // Takes `count` used entries; re-posts them when `avail` is given. Asks
  // for an interrupt at the next used entry, as Linux's virtqueue_enable_cb.
  bool consume_used(FakeDriver& d, uint16_t& used, size_t count, uint16_t* avail) {
    std::atomic_thread_fence(std::memory_order_acquire);
    if (d.used_idx() != static_cast<uint16_t>(used + count)) return false;
    if (avail) {
      for (size_t i = 0; i < count; ++i)
        d.set_avail_entry(static_cast<uint16_t>(*avail + i),
                          static_cast<uint16_t>(d.used_entry(static_cast<uint16_t>(used + i)).id));
      *avail = static_cast<uint16_t>(*avail + count);
      std::atomic_thread_fence(std::memory_order_release);
      d.set_avail_idx(*avail);
    }
    used = static_cast<uint16_t>(used + count);
    d.set_used_event(used);
    return true;
  }

  GuestMemory mem_;
  FakeDriver rx_, tx_, ctrl_;
  std::vector<Queue> queues_;
  boost::asio::io_context io_;
  IrqfdEvents events_;
  std::shared_ptr<NetDevice> device_;
  std::vector<uint64_t> rx_buffers_;  // by descriptor index
  std::vector<uint16_t> tx_heads_;
  uint16_t tx_avail_ = 0, tx_used_ = 0;
  uint16_t rx_avail_ = kQueueSize, rx_used_ = 0;
};

// The device must not have dropped or refused anything.
std::string check_counters(const FakeGuest& guest) {
  const auto c = guest.counters();
  if (guest.needs_reset() || c.tx_dropped_header || c.tx_errors || c.rx_errors || c.rx_filtered_total() ||
      c.rx_dropped_header || c.rx_dropped_too_big || c.rx_dropped_no_queue)
    return "the device dropped or refused frames";
  return "";
}

class WrenTx : public FramePath {
 public:
  WrenTx(TapPair& pair, size_t frame_len, int batch)
      : pair_(pair),
        frame_len_(frame_len),
        batch_(batch),
        frame_(make_frame(frame_len, kGuestMac, kPeerMac)),
        guest_(pair),
        peer_buffer_(NetDevice::kMaxRxFrameBytes) {}
  std::string start() override {
    if (auto err = guest_.start(); !err.empty()) return err;
    guest_.prepare_tx(frame_, batch_);
    // The peer gets the guest's frames unchanged.
    if (!guest_.transmit()) return "TX chains not returned";
    for (int i = 0; i < batch_; ++i) {
      const size_t n = TapPair::read_frame(pair_.peer_fd(), peer_buffer_, std::chrono::seconds(1));
      if (n != kHeaderSize + frame_len_ || !std::equal(frame_.frame.begin(), frame_.frame.end(),
                                                       peer_buffer_.begin() + static_cast<ptrdiff_t>(kHeaderSize)))
        return "the peer did not get the guest's frame";
    }
    interrupts_at_start_ = guest_.interrupts();
    return "";
  }
  bool step(std::string& error) override {
    if (!guest_.transmit()) {
      error = "TX chains not returned";
      return false;
    }
    return receive_frames(pair_.peer_fd(), peer_buffer_, kHeaderSize + frame_len_, batch_, error);
  }
  std::string finish() override { return check_counters(guest_); }
  double interrupts_per_frame(double frames) const override {
    return static_cast<double>(guest_.interrupts() - interrupts_at_start_) / frames;
  }

 private:
  TapPair& pair_;
  size_t frame_len_;
  int batch_;
  BenchFrame frame_;
  FakeGuest guest_;
  std::vector<uint8_t> peer_buffer_;
  uint64_t interrupts_at_start_ = 0;
};

class WrenRx : public FramePath {
 public:
  WrenRx(TapPair& pair, size_t frame_len, int batch)
      : pair_(pair),
        batch_(batch),
        frame_(make_frame(frame_len, kPeerMac, kGuestMac)),
        joined_(frame_.joined()),
        buffers_per_frame_((joined_.size() + kRxBufferSize - 1) / kRxBufferSize),
        guest_(pair) {}
  std::string start() override {
    if (auto err = guest_.start(); !err.empty()) return err;
    // The guest gets the peer's frame unchanged.
    std::string error;
    if (!send_frames(pair_.peer_fd(), joined_, 1, error)) return error;
    if (!guest_.receive(buffers_per_frame_)) return "the frame never reached the guest";
    const auto got = guest_.last_rx_bytes(buffers_per_frame_, joined_.size());
    if (got.size() != joined_.size() ||
        !std::equal(frame_.frame.begin(), frame_.frame.end(), got.begin() + kHeaderSize))
      return "the guest did not get the peer's frame";
    interrupts_at_start_ = guest_.interrupts();
    return "";
  }
  bool step(std::string& error) override {
    if (!send_frames(pair_.peer_fd(), joined_, batch_, error)) return false;
    if (guest_.receive(buffers_per_frame_ * static_cast<size_t>(batch_))) return true;
    error = "frames did not reach the guest";
    return false;
  }
  std::string finish() override { return check_counters(guest_); }
  double interrupts_per_frame(double frames) const override {
    return static_cast<double>(guest_.interrupts() - interrupts_at_start_) / frames;
  }

 private:
  TapPair& pair_;
  int batch_;
  BenchFrame frame_;
  std::vector<uint8_t> joined_;
  size_t buffers_per_frame_;
  FakeGuest guest_;
  uint64_t interrupts_at_start_ = 0;
};

}  // namespace

std::unique_ptr<FramePath> wren_tx_path(TapPair& pair, size_t frame_len, int batch) {
  return std::make_unique<WrenTx>(pair, frame_len, batch);
}
std::unique_ptr<FramePath> wren_rx_path(TapPair& pair, size_t frame_len, int batch) {
  return std::make_unique<WrenRx>(pair, frame_len, batch);
}

}  // namespace wren::bench
