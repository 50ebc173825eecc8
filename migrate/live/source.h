#pragma once
// The sending side of a live migration (protocol: PROTOCOL.md).
//
//   auto channel = TcpChannel::connect(*parse_tcp_address("tcp:10.0.0.2:4444"));
//   MigrationSource source(vm, *channel, options);    // vm: the VMM's SourceVm
//   SourceResult r = source.run();                     // on a migration thread
//   migrated: exit; failed: the guest runs here as before; commit_unknown: see below.
//
// Until Commit is sent, every failure (connection lost, destination refused
// or died, cancel, timeout, a VM callback throwing) ends the same way: dirty
// tracking stopped, the guest resumed if this run paused it, Abort sent when
// the link still works, and the reason in SourceResult::error.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "migrate/live/bandwidth.h"
#include "migrate/live/channel.h"
#include "migrate/live/messages.h"
#include "migrate/live/vm_config.h"
#include "migrate/payload.h"

namespace wren::migrate::live {

// What the VMM provides. Called only from the thread running
// MigrationSource::run(); may throw (the migration then fails as above).
class SourceVm {
 public:
  virtual ~SourceVm() = default;
  virtual VmConfig config() = 0;
  virtual const GuestMemory& memory() = 0;
  // Start recording which pages get written (KVM dirty log plus
  // GuestMemory's own bitmap), forgetting anything recorded before.
  virtual void start_dirty_tracking() = 0;
  virtual void stop_dirty_tracking() = 0;
  // Pages (4 KiB-aligned guest addresses, any order) written since the
  // last call or since start_dirty_tracking().
  virtual std::vector<uint64_t> take_dirty_pages() = 0;
  // Stop every vCPU and device, so nothing writes guest RAM any more.
  virtual void pause() = 0;
  virtual void resume() = 0;
  // Every vCPU and device payload, as for a snapshot (the migration adds
  // the memory layout itself). Called while paused.
  virtual std::vector<Payload> capture_payloads() = 0;
};

enum class SourcePhase {
  negotiating,
  checking_config,
  precopy,
  stop_and_copy,
  sending_state,
  waiting_ready,
  committing,
  done
};
[[nodiscard]] const char* phase_name(SourcePhase phase);

struct SourceProgress {
  SourcePhase phase = SourcePhase::negotiating;
  uint32_t round = 0;        // 1: all of RAM; then dirty pages; the stop-and-copy pass is the last
  uint64_t round_pages = 0;  // pages the round sent (so far, in a report during the round)
  // Pages left to send: after a round, the dirty ones the next round would
  // send; during a round, the rest of it.
  uint64_t dirty_pages = 0;
  double mib_per_s = 0;                             // measured link rate
  std::chrono::milliseconds estimated_downtime{0};  // to send dirty_pages at that rate
  uint64_t bytes_sent = 0;                          // everything so far
  std::chrono::milliseconds elapsed{0};
};

struct SourceOptions {
  // Stop the guest once the dirty pages left would go out within this.
  std::chrono::milliseconds downtime{300};
  // Give up (Abort, guest keeps running) after this long; 0: never.
  std::chrono::milliseconds timeout{0};
  // After this many pre-copy rounds stop the guest whatever the estimate
  // says; 0: no limit (only `timeout` ends a migration that cannot converge).
  uint32_t max_rounds = 0;
  std::vector<uint32_t> versions = kSupportedVersions;  // offered; the destination picks the highest it speaks
  size_t pages_per_frame = kMaxPagesPerFrame;           // 1..kMaxPagesPerFrame
  // Called on the migration thread at each phase change, after each round,
  // and during a round at most this often.
  std::function<void(const SourceProgress&)> on_progress;
  std::chrono::milliseconds progress_interval{1000};
};

enum class SourceOutcome {
  // The destination acknowledged Commit and runs the guest: end this one.
  migrated,
  // Nothing changed hands: the guest runs here (resumed if it was paused).
  failed,
  // Commit was sent but not acknowledged (the link failed in between): the
  // destination may be running the guest. It stays paused here; resume it
  // only once the destination is known not to run it.
  commit_unknown,
};

struct SourceResult {
  SourceOutcome outcome = SourceOutcome::failed;
  std::string error;       // why, unless migrated
  bool cancelled = false;  // by cancel()
  bool timed_out = false;  // by SourceOptions::timeout
  uint32_t version = 0;    // negotiated protocol version (0: none)
  uint32_t rounds = 0;     // pre-copy rounds, the stop-and-copy pass not counted
  uint64_t pages_sent = 0;
  uint64_t bytes_sent = 0;
  std::chrono::milliseconds total{0};
  // Guest stopped here: from pause() to CommitAck (or to resume() after a
  // failure); 0 if never paused.
  std::chrono::milliseconds downtime{0};
  bool ok() const { return outcome == SourceOutcome::migrated; }
};

class MigrationSource {
 public:
  MigrationSource(SourceVm& vm, Channel& channel, SourceOptions options = {});

  // The whole migration, on the calling thread; closes the channel before
  // returning. Call once.
  SourceResult run();

  // From any thread: end the migration at the next frame boundary (or when
  // a pending wait for the destination ends), Abort, resume the guest.
  // False once Commit has been sent (too late).
  bool cancel();

 private:
  using Clock = std::chrono::steady_clock;

  void negotiate();
  void check_config();
  void precopy();
  void stop_and_copy(std::vector<uint64_t> dirty);
  void send_state();
  void await_ready();
  void commit();
  void fail(const std::exception& error);

  void send_all_ram(uint32_t round);
  void send_pages(uint32_t round, std::span<const uint64_t> pages);
  void start_round(uint32_t round, uint64_t pages);
  void send_page_frame(std::span<const uint64_t> pages);
  struct RoundStart {
    Clock::time_point time;
    uint64_t bytes = 0;  // result_.bytes_sent then
  };
  void end_round(uint32_t round, uint64_t pages, const RoundStart& start);
  void send(MessageType type, std::span<const uint8_t> payload = {});
  // Between frames: cancel, timeout, and anything the destination sent.
  void check_continue();
  [[noreturn]] void stop_precopy_on_timeout();
  void report(SourcePhase phase, uint32_t round, uint64_t round_pages, uint64_t dirty_pages);
  std::chrono::milliseconds estimate(uint64_t pages) const;

  SourceVm& vm_;
  Channel& channel_;
  SourceOptions options_;
  SourceResult result_;
  BandwidthMeter meter_;
  Clock::time_point started_{};
  Clock::time_point paused_at_{};
  std::optional<Clock::time_point> deadline_;
  bool tracking_ = false;
  bool paused_ = false;
  uint64_t last_dirty_pages_ = 0;
  uint64_t last_round_pages_ = 0;
  // The round being sent, for reports during it.
  uint32_t round_ = 0;
  uint64_t round_total_ = 0;
  uint64_t round_sent_ = 0;
  Clock::time_point last_report_{};

  std::mutex commit_mutex_;
  bool commit_sent_ = false;  // guarded by commit_mutex_
  std::atomic<bool> cancel_requested_{false};
};

}  // namespace wren::migrate::live
