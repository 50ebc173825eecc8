#pragma once
// The virtio-net device (virtio 1.2, 5.1): features, config space, queues
// and the datapath between a NetBackend (a TAP) and the guest's virtqueues.
//
// Queues: receiveq1, transmitq1, ..., receiveqN, transmitqN, controlq
// (N = queue pairs; the control queue is index 2 unless MQ or RSS is
// negotiated, then 2N).
//
// Frame paths:
//   host -> guest: backend fd readable (Asio wait on the event loop) -> read
//     one frame -> RxFilter::classify (drop + count) -> header check (drop or
//     complete the checksum) -> RSS queue selection -> copy into one chain
//     (or several with MRG_RXBUF) -> used ring -> interrupt (EVENT_IDX aware).
//     When the guest has no buffers the frame is held and the fd is not
//     watched until the guest kicks that receive queue (kicks are re-enabled
//     first and re-checked, so none is lost).
//   guest -> host: transmit kick -> pop chains -> copy and check the header ->
//     writev header + guest buffers to the backend -> used -> interrupt.
//     EAGAIN puts the chain back and waits for the fd to be writable.
//   control queue: copy header and data (at most kMaxCtrlCommandBytes) ->
//     apply_ctrl_command -> host side (filter, offloads, queue attachment)
//     moved to the new state (HostSide: rolled back on failure) -> ack byte
//     -> used -> interrupt.
//
// Sources, by path: net_device.cc (features, config, activation, kicks, the
// event loop), net_device_rx.cc, net_device_tx.cc, net_device_ctrl.cc and
// net_device_state.cc (save, validate, restore).
//
// Guest errors never crash the VMM: a broken queue or a control chain
// without a status byte sets DEVICE_NEEDS_RESET; malformed packets and
// commands are dropped/refused and counted.
//
// Threading: every entry point takes the device mutex; Asio handlers run
// on the event loop's thread and hold only a weak reference (create() makes
// the device shared). Config reads use a separate lock so vCPUs never wait
// for the datapath.
#include <sys/uio.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "virtio/device.h"
#include "virtio/device_turn.h"
#include "virtio/net/ctrl_command.h"
#include "virtio/net/host_side.h"
#include "virtio/net/net_backend.h"
#include "virtio/used_notifications.h"

namespace wren {

inline constexpr uint16_t kNetMaxQueuePairs = 64;

struct NetDeviceOptions {
  std::string name = "net0";  // for logs and the control socket
  MacAddress mac;             // must be a station address (unicast, non-zero)
  uint16_t queue_pairs = 1;   // 1..kNetMaxQueuePairs; the backend must have this many queues
  bool mac_change = false;    // offer CTRL_MAC_ADDR (the guest may change its MAC)
  // Drop (and count) transmitted frames whose source is not the NIC's
  // current MAC (the configured one, or the one the guest set with mac-change).
  bool mac_lock = false;
  uint16_t queue_size = 256;  // power of two
};

struct NetCounters {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  std::array<uint64_t, kRxVerdictCount> rx_filtered{};  // indexed by RxVerdict (Accept unused)
  uint64_t rx_dropped_header = 0;                       // host header the guest cannot take
  uint64_t rx_dropped_too_big = 0;                      // larger than the guest's buffers
  uint64_t rx_dropped_no_queue = 0;                     // target receive queue not enabled
  uint64_t rx_errors = 0;                               // backend read errors, short reads
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_dropped_header = 0;   // malformed guest header
  uint64_t tx_dropped_too_big = 0;  // frame above kMaxTxFrameBytes
  uint64_t tx_dropped_spoofed = 0;  // mac-lock: source address not the NIC's current MAC
  uint64_t tx_errors = 0;           // backend write errors
  uint64_t ctrl_ok = 0;
  uint64_t ctrl_err = 0;
  uint64_t ctrl_malformed = 0;        // chain without header or status byte, or oversized
  uint64_t host_filter_failures = 0;  // host side (filter, offloads, queue attachment) refused a change

  uint64_t rx_filtered_total() const;
};

// What the control socket's query-rx-filter reports.
struct RxFilterReport {
  std::string name;
  bool active = false;
  bool ctrl_rx = false;  // CTRL_RX negotiated
  RxFilter filter;
  HostFilter wanted;                    // what the filter needs from the host
  std::optional<HostFilter> installed;  // what the backend has (nullopt: unknown after a failure)
  uint16_t queue_pairs = 1;
  uint64_t guest_offloads = 0;
  NetCounters counters;
};

class NetDevice : public VirtioDevice, public std::enable_shared_from_this<NetDevice> {
 public:
  static constexpr size_t kConfigSize = 24;  // struct virtio_net_config
  static constexpr size_t kMaxCtrlCommandBytes = 64 * 1024;
  // Control commands served per turn before yielding to the event loop.
  static constexpr uint64_t kCtrlCommandsPerTurn = 16;
  // Largest frame read from the backend (64 KiB GSO frame + header + slack).
  static constexpr size_t kMaxRxFrameBytes = 65536 + 256;
  // Largest frame the guest may send, after its virtio-net header (a 64 KiB GSO frame).
  static constexpr size_t kMaxTxFrameBytes = 65536;

  // Host configuration errors (bad MAC, queue pairs out of range or not
  // matching the backend, bad queue size) throw std::invalid_argument.
  static std::shared_ptr<NetDevice> create(NetDeviceOptions options, std::unique_ptr<NetBackend> backend,
                                           boost::asio::io_context& io);
  ~NetDevice() override;

  // VirtioDevice
  std::string name() const override { return options_.name; }
  uint32_t device_type() const override;
  uint64_t device_features() const override { return offered_; }
  bool accept_features(uint64_t features) const override;
  uint16_t num_queues() const override { return static_cast<uint16_t>(2 * options_.queue_pairs + 1); }
  uint16_t queue_max_size(uint16_t) const override { return options_.queue_size; }
  uint32_t config_size() const override { return kConfigSize; }
  void read_config(uint32_t offset, std::span<uint8_t> out) override;
  void write_config(uint32_t offset, std::span<const uint8_t> in) override;
  [[nodiscard]] bool activate(const ActivationContext& context) override;
  void reset() override;
  void queue_notify(uint16_t index) override;

  // ---- Host side --------------------------------------------------------------
  void set_link_up(bool up);
  // Ask the guest to announce itself (after migration): sets ANNOUNCE in
  // the config status if GUEST_ANNOUNCE was negotiated. False if not.
  bool announce();
  // Called (outside the device lock) after the guest changed its receive
  // filter, e.g. to emit the control socket's rx-filter-changed event.
  void set_rx_filter_listener(std::function<void(const std::string& name)> listener);

  RxFilterReport query_rx_filter() const;
  NetCounters counters() const;

  // ---- Migration --------------------------------------------------------------
  // All guest-visible device state (the transport saves the queues).
  struct State {
    bool link_up = true;
    bool active = false;    // DRIVER_OK: the fields below are meaningful
    uint64_t features = 0;  // negotiated
    NetControlState control;
    // Receive chains taken from each receive queue but not yet returned
    // (MRG_RXBUF frames wait for enough buffers), by head index, oldest first.
    std::vector<std::vector<uint16_t>> rx_held;

    friend bool operator==(const State&, const State&) = default;
  };
  State save() const;

  // A state this device's validate() accepted. Only NetDevice makes one, so
  // restore(ValidState) applies it without checking it again: every rule on
  // restored net state (features, control state, receive filter, held
  // chains) runs once per import, in validate().
  class ValidState {
   public:
    const State& state() const { return state_; }

   private:
    friend class NetDevice;
    ValidState(const NetDevice& validator, State state) : validator_(&validator), state_(std::move(state)) {}
    const NetDevice* validator_;  // restore() takes only its own device's tokens
    State state_;
  };
  // Checks `state` like guest input, against this device's configuration
  // (which never changes, so the token stays valid): the token, or the first
  // problem.
  [[nodiscard]] std::variant<ValidState, std::string> validate(State state) const;
  // If the device is active with the same features, the state is applied at
  // once; otherwise it is kept for the next activate() (the transport's
  // restore re-activates the device), which adopts it if the features match.
  // Either way the host side an active state needs is installed here, so a
  // host that refuses it fails the import (the migration source keeps the
  // guest) and the device is left as it was. nullopt = applied or kept.
  [[nodiscard]] std::optional<std::string> restore(const ValidState& state);
  // validate() then restore(): for callers that hold a single device.
  [[nodiscard]] std::optional<std::string> restore(const State& state);

  NetControlLimits limits() const;

 private:
  struct Private {};

 public:
  NetDevice(Private, NetDeviceOptions options, std::unique_ptr<NetBackend> backend, boost::asio::io_context& io);

 private:
  struct TapQueue {
    explicit TapQueue(boost::asio::io_context& io, int fd);
    boost::asio::posix::stream_descriptor descriptor;
    bool read_armed = false;
    bool write_armed = false;
    bool blocked = false;        // holding a frame until the guest adds receive buffers
    std::vector<uint8_t> frame;  // header + frame as read (and rewritten for the guest)
    size_t frame_len = 0;        // 0: nothing held
    uint16_t target = 0;         // receive queue (pair index) for the held frame
    uint32_t failed_reads = 0;   // in a row: the retry backs off while it lasts
    boost::asio::steady_timer read_retry;
  };
  enum class Delivery : uint8_t { Delivered, Dropped, NoBuffers };
  enum class Send : uint8_t { Sent, Dropped, WouldBlock };
  // What a turn of work must tell the outside once the device lock is released.
  struct Events {
    bool rx_filter_changed = false;  // to the rx-filter listener
    bool config_changed = false;     // to the transport (config interrupt)
  };

  // One turn of device work: lock, run `work`, send the interrupts it made
  // due, take the events it raised, unlock, then fire them (a listener may
  // call back into the device). A host-side exception in `work` or in the
  // interrupts must not end the VMM: the device needs a reset
  // (run_device_turn).
  template <typename Work>
  void locked_turn(Work&& work) {
    Events events;
    {
      std::lock_guard lock(mutex_);
      const auto fail = [this](const std::string& why) { fail_device(why); };
      run_device_turn(std::forward<Work>(work), fail);
      run_device_turn([this] { flush_notifications(); }, fail);
      events = std::exchange(events_, Events{});
    }
    fire(events);
  }

  // validate()'s rules: the first problem with `state`, or nullopt.
  std::optional<std::string> first_problem(const State& state) const;

  // All below: mutex_ held.
  bool ctrl_rx() const;
  Queue* queue(uint16_t index);
  uint16_t ctrl_index() const;
  uint16_t active_pairs() const;
  // Rebuilds the config space; raises config_changed if it changed while active.
  void update_config_locked();
  // Moves the host side from `old` to `next`, counting and logging a failure;
  // a failed rollback sets NEEDS_RESET.
  HostSide::Outcome change_host_side_locked(const NetControlState& old, const NetControlState& next);
  HostSide::Outcome change_host_side_locked(const HostSettings& old, const HostSettings& next);
  // Installs the host side a restored active state needs (header size,
  // filter, offloads, queues), from what this device has now. The host's
  // refusal (rolled back), or nullopt.
  std::optional<std::string> apply_restored_host_side_locked(const State& state);
  bool adopt_locked(const State& state);
  void process_rx(uint16_t tap);
  bool read_frame(uint16_t tap);  // false: nothing to read now (wait or retry armed)
  // A read failed (or the backend closed): count it and retry later.
  void read_failed(uint16_t tap, const char* why);
  Delivery deliver(uint16_t pair, std::span<uint8_t> bytes);
  bool starved(Queue& q);
  // The next receive chain; nullopt with `none` saying why there is none
  // (Dropped: the queue is broken; NoBuffers: empty, a kick will come).
  std::optional<DescriptorChain> next_rx_chain(Queue& q, Delivery& none);
  void process_tx(uint16_t pair);
  Send send_chain(uint16_t pair, const DescriptorChain& chain);
  // mac-lock: whether the frame after the header comes from the current MAC.
  bool sent_from_own_mac(const DescriptorChain& chain) const;
  void process_ctrl(uint16_t index);  // index: the control queue's
  // Serves `q` chain by chain with `serve` (false: stop, it put the chain
  // back) until the queue is empty (kicks re-enabled and re-checked, so none
  // is lost), `budget` chains were served (the rest continues on the event
  // loop with (this->*resume)(resume_arg)), or the queue breaks.
  template <typename Serve>
  void drain_queue(Queue& q, uint64_t budget, void (NetDevice::*resume)(uint16_t), uint16_t resume_arg, Serve&& serve) {
    for (;;) {
      q.disable_notification(*memory_);
      for (;;) {
        if (budget-- == 0) {
          continue_later(resume_arg, resume);  // let other work run
          return;
        }
        auto c = q.pop(*memory_);
        if (c.is_error()) {
          broken_queue(q, c.error());
          return;
        }
        if (!c) break;
        if (!serve(*c)) return;
      }
      if (!q.enable_notification(*memory_)) break;
    }
  }
  uint8_t execute_ctrl(uint8_t cls, uint8_t cmd, std::span<const uint8_t> data);
  // Runs (this->*work)(index) later on the event loop (same activation only).
  void continue_later(uint16_t index, void (NetDevice::*work)(uint16_t));
  // Armed after a read returned EAGAIN (never while a frame is held).
  void arm_read(uint16_t tap);
  void arm_write(uint16_t tap);
  void on_ready(uint16_t tap, bool write, uint64_t generation, const boost::system::error_code& ec);
  void mark_used(uint16_t index) { used_.mark(index); }
  void flush_notifications();
  void guest_error(const std::string& what);
  // Sets NEEDS_RESET (logged once per activation).
  void fail_device(const std::string& why);
  void broken_queue(const Queue& q, ChainError error);
  void fire(const Events& events);  // mutex_ NOT held

  const NetDeviceOptions options_;
  const std::unique_ptr<NetBackend> backend_;
  boost::asio::io_context& io_;
  uint64_t offered_ = 0;

  mutable std::mutex mutex_;
  bool active_ = false;
  uint64_t generation_ = 0;  // bumped on activate/reset; stale Asio completions are ignored
  uint64_t features_ = 0;
  GuestMemory* memory_ = nullptr;
  std::span<Queue> queues_;
  size_t header_size_ = 12;
  bool link_up_ = true;
  NetControlState control_;
  HostSide host_side_;
  std::vector<TapQueue> taps_;
  std::vector<std::deque<DescriptorChain>> rx_held_;
  // send_chain's scratch lists, kept so that a frame allocates none.
  std::vector<GuestSlice> tx_slices_;
  std::vector<iovec> tx_iov_;
  UsedNotifications used_;
  NetCounters counters_;
  Events events_;
  std::optional<State> pending_restore_;
  bool needs_reset_logged_ = false;
  std::function<void(const std::string&)> rx_filter_listener_;

  mutable std::mutex config_mutex_;  // guards config_ only
  std::array<uint8_t, kConfigSize> config_{};
};

}  // namespace wren
