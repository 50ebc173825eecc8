#pragma once
// The virtio-blk device (virtio 1.2, 5.2) on a raw image file.
//
// A request's path: kick -> pop a chain (at most max_in_flight per queue in
// flight; a full queue stops popping until a completion frees a slot) ->
// copy the header -> blk::parse (every check before any I/O) -> io_uring
// operation straight into / out of guest memory (the chain's slices) ->
// completion eventfd wakes the event loop -> status byte -> used ring ->
// interrupt. Requests complete in any order.
//
// Durability: with writeback on (config.writeback, the default when FLUSH is
// negotiated) a FLUSH completes only after fdatasync has returned; with
// writeback off, or without FLUSH negotiated, every write is RWF_DSYNC.
//
// Guest errors: a chain without a status byte or a complete header sets
// DEVICE_NEEDS_RESET (nothing can be answered); every other bad request is
// answered IOERR / UNSUPP and counted. A broken queue sets NEEDS_RESET.
//
// Snapshot and migration: save() waits until the kernel has finished every
// operation in flight (no write reaches the image after it returns) and
// records those requests' heads; their completions are left to the loop
// (a snapshot that resumes completes them as usual). A restored device
// re-executes the recorded requests from the guest's (restored) descriptor
// table, so none is lost or answered twice.
//
// Threading: entry points take the device mutex; completions are handled on
// the event loop. Config accesses use their own lock.
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "virtio/blk/blk_config.h"
#include "virtio/blk/image_file.h"
#include "virtio/blk/io_engine.h"
#include "virtio/blk/request.h"
#include "virtio/device.h"
#include "virtio/device_turn.h"
#include "virtio/used_notifications.h"

namespace wren {

inline constexpr uint16_t kBlkMaxQueues = 16;

struct BlkDeviceOptions {
  std::string name = "disk0";
  std::string serial;  // GET_ID answer (at most 20 bytes used)
  uint16_t queues = 1;
  uint16_t queue_size = 256;
  uint16_t max_in_flight = 128;  // per queue
};

struct BlkCounters {
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t flushes = 0;
  uint64_t discards = 0;
  uint64_t write_zeroes = 0;
  uint64_t get_ids = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t io_errors = 0;    // answered IOERR (bad request or host I/O error)
  uint64_t host_errors = 0;  // of which the host's I/O failed (ENOSPC, EIO, ...)
  uint64_t unsupported = 0;  // answered UNSUPP
  uint64_t malformed = 0;    // chains without header or status (NEEDS_RESET)
  uint64_t in_flight = 0;    // now
  uint64_t requests() const { return reads + writes + flushes + discards + write_zeroes + get_ids; }
};

struct BlkReport {
  std::string name;
  std::string path;
  bool read_only = false;
  bool direct = false;
  bool active = false;
  bool writeback = false;
  uint64_t capacity_bytes = 0;
  uint16_t queues = 1;
  BlkCounters counters;
};

class BlkDevice : public VirtioDevice, public std::enable_shared_from_this<BlkDevice> {
 public:
  static constexpr uint32_t kSizeMax = 1u << 20;            // per segment
  static constexpr uint32_t kMaxDiscardSegments = 32;       // per request
  static constexpr uint32_t kMaxDiscardSectors = 1u << 22;  // 2 GiB per segment

  // Host configuration errors (queues, queue size, in-flight bound) throw
  // std::invalid_argument; io_uring unavailable throws std::system_error.
  static std::shared_ptr<BlkDevice> create(BlkDeviceOptions options, blk::ImageFile image, boost::asio::io_context& io);
  ~BlkDevice() override;

  // VirtioDevice
  std::string name() const override { return options_.name; }
  uint32_t device_type() const override;
  uint64_t device_features() const override { return offered_; }
  bool accept_features(uint64_t features) const override { return (features & ~offered_) == 0; }
  uint16_t num_queues() const override { return options_.queues; }
  uint16_t queue_max_size(uint16_t) const override { return options_.queue_size; }
  uint32_t config_size() const override { return blk::kBlkConfigSize; }
  void read_config(uint32_t offset, std::span<uint8_t> out) override;
  void write_config(uint32_t offset, std::span<const uint8_t> in) override;
  [[nodiscard]] bool activate(const ActivationContext& context) override;
  void reset() override;
  void queue_notify(uint16_t index) override;

  // ---- Host side ----------------------------------------------------------------
  BlkReport report() const;
  const blk::ImageFile& image() const { return image_; }
  const std::string& serial() const { return options_.serial; }
  // Takes the image lock deferred by ImageOptions::lock = false. Throws
  // blk::ImageError while another process holds it.
  void lock_image();
  // Handles finished I/O now (the event loop does this on its own; tests
  // without a running loop may call it). Returns the number reaped.
  size_t poll_completions();

  // ---- Migration ------------------------------------------------------------------
  struct State {
    bool active = false;
    uint64_t features = 0;
    bool writeback = true;        // config.writeback as the guest last set it
    uint64_t capacity_bytes = 0;  // the image the guest saw
    uint64_t image_inode = 0;
    bool read_only = false;
    uint16_t queues = 1;
    // Requests popped but not yet answered, per queue, by head index: the
    // destination executes them again.
    std::vector<std::vector<uint16_t>> in_flight;
    friend bool operator==(const State&, const State&) = default;
  };
  // Waits for every operation in flight to finish in the kernel first.
  State save();
  [[nodiscard]] std::optional<std::string> validate(const State& state) const;
  // Validated like guest input; applied at the next activate() (the
  // transport's restore re-activates the device) or at once if active with
  // the same features.
  [[nodiscard]] std::optional<std::string> restore(const State& state);

 private:
  struct Private {};

 public:
  BlkDevice(Private, BlkDeviceOptions options, blk::ImageFile image, boost::asio::io_context& io);

 private:
  struct Slot {
    bool busy = false;
    uint16_t queue = 0;
    std::optional<DescriptorChain> chain;
    blk::RequestKind kind = blk::RequestKind::Read;
    uint64_t length = 0;
    uint32_t pending = 0;  // operations not yet completed
    uint8_t status = 0;    // first failure wins
    std::vector<iovec> iov;
    std::vector<blk::Range> ranges;
  };

  // One turn of device work: lock, run `work`, send the interrupts it made
  // due. A host-side exception in either sets NEEDS_RESET instead of ending
  // the VMM (run_device_turn).
  template <typename Work>
  void locked_turn(Work&& work) {
    std::lock_guard lock(mutex_);
    const auto fail = [this](const std::string& why) { fail_device(why); };
    run_device_turn(std::forward<Work>(work), fail);
    run_device_turn([this] { flush_notifications(); }, fail);
  }

  // mutex_ held:
  bool activate_locked(const ActivationContext& context);
  blk::DiskLimits limits_locked() const;
  void process_queue(uint16_t index);
  // false: no room in the ring; the chain was not taken (caller undoes the pop).
  bool start_request(uint16_t queue, DescriptorChain chain);
  void answer(uint16_t queue, const DescriptorChain& chain, uint8_t status, uint32_t data_len);
  void finish(uint32_t slot);
  void on_complete(uint64_t token, int32_t result);
  size_t reap_locked();
  void wait_all_locked();
  uint32_t take_slot();
  void flush_notifications();
  void guest_error(const std::string& what);
  // Sets NEEDS_RESET (logged once per activation).
  void fail_device(const std::string& why);
  bool adopt_locked(const State& state);
  void arm_completion_wait();
  void count_status(uint8_t status);

  const BlkDeviceOptions options_;
  blk::ImageFile image_;
  boost::asio::io_context& io_;
  uint64_t offered_ = 0;
  blk::IoEngine engine_;
  boost::asio::posix::stream_descriptor completions_;
  bool wait_armed_ = false;

  mutable std::mutex mutex_;
  bool active_ = false;
  uint64_t features_ = 0;
  GuestMemory* memory_ = nullptr;
  std::span<Queue> queues_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> queue_in_flight_;
  UsedNotifications used_;
  BlkCounters counters_;
  std::optional<State> pending_restore_;
  bool needs_reset_logged_ = false;

  mutable std::mutex config_mutex_;
  blk::BlkConfigValues config_;
  std::atomic<bool> writeback_{true};
};

}  // namespace wren
