#include "migrate/live/source.h"

#include <algorithm>
#include <cstdio>

#include "migrate/guest_pages.h"
#include "migrate/kinds.h"
#include "migrate/live/frame.h"
#include "migrate/stream.h"

namespace wren::migrate::live {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// The state section goes in chunks well under the frame cap.
constexpr size_t kStateChunkBytes = 1 << 20;
// After a send fails, how long to wait for the Reject that may explain it.
constexpr milliseconds kReasonWait{1000};

// The destination said no (Reject): nothing to Abort.
class Refused : public std::runtime_error {
 public:
  explicit Refused(const std::string& reason) : std::runtime_error("destination refused: " + reason) {}
};

// This side decided to stop (cancel, timeout): Abort tells the destination.
class Stopped : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string seconds_text(milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

}  // namespace

const char* phase_name(SourcePhase phase) {
  switch (phase) {
    case SourcePhase::negotiating: return "negotiating";
    case SourcePhase::checking_config: return "checking-config";
    case SourcePhase::precopy: return "pre-copy";
    case SourcePhase::stop_and_copy: return "stop-and-copy";
    case SourcePhase::sending_state: return "sending-state";
    case SourcePhase::waiting_ready: return "waiting-ready";
    case SourcePhase::committing: return "committing";
    case SourcePhase::done: return "done";
  }
  return "?";
}

MigrationSource::MigrationSource(SourceVm& vm, Channel& channel, SourceOptions options)
    : vm_(vm), channel_(channel), options_(std::move(options)) {
  options_.pages_per_frame = std::clamp<size_t>(options_.pages_per_frame, 1, kMaxPagesPerFrame);
}

bool MigrationSource::cancel() {
  std::lock_guard lock(commit_mutex_);
  if (commit_sent_) return false;
  cancel_requested_ = true;
  return true;
}

SourceResult MigrationSource::run() {
  started_ = Clock::now();
  if (options_.timeout.count() > 0) deadline_ = started_ + options_.timeout;
  try {
    negotiate();
    check_config();
    precopy();
    send_state();
    await_ready();
    commit();
    result_.outcome = SourceOutcome::migrated;
    report(SourcePhase::done, result_.rounds + 1, 0, 0);  // pre-copy rounds and the stop-and-copy
  } catch (const std::exception& e) {
    fail(e);
  }
  result_.total = duration_cast<milliseconds>(Clock::now() - started_);
  channel_.close();
  return result_;
}

void MigrationSource::negotiate() {
  report(SourcePhase::negotiating, 0, 0, 0);
  send(MessageType::hello, encode_hello(options_.versions));
  Frame reply = receive_frame(channel_);
  if (reply.type == MessageType::reject) throw Refused(decode_reason(reply.type, reply.payload));
  if (reply.type != MessageType::welcome) throw ProtocolError("expected Welcome, got " + message_name(reply.type));
  const uint32_t version = decode_welcome(reply.payload);
  if (std::find(options_.versions.begin(), options_.versions.end(), version) == options_.versions.end())
    throw ProtocolError("the destination chose version " + std::to_string(version) + ", which was not offered (" +
                        version_list(options_.versions) + ")");
  result_.version = version;
}

void MigrationSource::check_config() {
  report(SourcePhase::checking_config, 0, 0, 0);
  send(MessageType::config, encode_vm_config(vm_.config()));
  Frame reply = receive_frame(channel_);
  if (reply.type == MessageType::reject) throw Refused(decode_reason(reply.type, reply.payload));
  if (reply.type != MessageType::config_ok) throw ProtocolError("expected ConfigOk, got " + message_name(reply.type));
  expect_empty(reply.type, reply.payload);
}

std::chrono::milliseconds MigrationSource::estimate(uint64_t pages) const {
  return estimate_send_time(pages, meter_.bytes_per_second());
}

void MigrationSource::precopy() {
  vm_.start_dirty_tracking();
  tracking_ = true;
  uint32_t round = 1;
  send_all_ram(round);
  for (;;) {
    std::vector<uint64_t> dirty = vm_.take_dirty_pages();
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    last_dirty_pages_ = dirty.size();
    report(SourcePhase::precopy, round, last_round_pages_, dirty.size());
    result_.rounds = round;
    const bool converged = estimate(dirty.size()) <= options_.downtime;
    const bool out_of_rounds = options_.max_rounds > 0 && round >= options_.max_rounds;
    if (converged || out_of_rounds) return stop_and_copy(std::move(dirty));
    if (deadline_ && Clock::now() >= *deadline_) stop_precopy_on_timeout();
    send_pages(++round, dirty);
  }
}

void MigrationSource::stop_precopy_on_timeout() {
  result_.timed_out = true;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.1f", meter_.bytes_per_second() / (1 << 20));
  throw Stopped("did not converge within " + seconds_text(options_.timeout) + ": round " +
                std::to_string(result_.rounds) + " left " + std::to_string(last_dirty_pages_) + " dirty pages, about " +
                std::to_string(estimate(last_dirty_pages_).count()) + " ms to send at " + rate +
                " MiB/s, over the downtime budget of " + std::to_string(options_.downtime.count()) + " ms");
}

void MigrationSource::stop_and_copy(std::vector<uint64_t> dirty) {
  check_continue();
  vm_.pause();
  paused_ = true;
  paused_at_ = Clock::now();
  // Pages written between the last take and the pause.
  std::vector<uint64_t> more = vm_.take_dirty_pages();
  vm_.stop_dirty_tracking();
  tracking_ = false;
  dirty.insert(dirty.end(), more.begin(), more.end());
  std::sort(dirty.begin(), dirty.end());
  dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
  report(SourcePhase::stop_and_copy, result_.rounds + 1, 0, dirty.size());
  send_pages(result_.rounds + 1, dirty);
}

void MigrationSource::send_all_ram(uint32_t round) {
  const RoundStart started{Clock::now(), result_.bytes_sent};
  start_round(round, vm_.memory().total_bytes() / kPageSize);
  std::vector<uint64_t> chunk;
  chunk.reserve(options_.pages_per_frame);
  for (const auto& region : vm_.memory().regions()) {
    for (uint64_t gpa = region.gpa; gpa < region.gpa + region.size; gpa += kPageSize) {
      chunk.push_back(gpa);
      if (chunk.size() == options_.pages_per_frame) {
        send_page_frame(chunk);
        chunk.clear();
      }
    }
  }
  if (!chunk.empty()) send_page_frame(chunk);
  end_round(round, round_sent_, started);
}

void MigrationSource::send_pages(uint32_t round, std::span<const uint64_t> pages) {
  const RoundStart started{Clock::now(), result_.bytes_sent};
  start_round(round, pages.size());
  for (size_t at = 0; at < pages.size(); at += options_.pages_per_frame)
    send_page_frame(pages.subspan(at, std::min(options_.pages_per_frame, pages.size() - at)));
  end_round(round, pages.size(), started);
}

void MigrationSource::start_round(uint32_t round, uint64_t pages) {
  round_ = round;
  round_total_ = pages;
  round_sent_ = 0;
}

void MigrationSource::send_page_frame(std::span<const uint64_t> pages) {
  check_continue();
  FrameWriter frame(MessageType::pages);
  put_u32(frame, round_);
  const auto zero_pages = result_.version >= kProtocolV2 ? ZeroPages::as_runs : ZeroPages::as_data;
  (void)write_page_batch(vm_.memory(), pages, frame, zero_pages);
  result_.bytes_sent += frame.send(channel_);
  result_.pages_sent += pages.size();
  round_sent_ += pages.size();
  // The report after the round follows the last frame.
  if (round_sent_ < round_total_ && Clock::now() - last_report_ >= options_.progress_interval)
    report(paused_ ? SourcePhase::stop_and_copy : SourcePhase::precopy, round_, round_sent_,
           round_total_ - round_sent_);
}

void MigrationSource::end_round(uint32_t round, uint64_t pages, const RoundStart& start) {
  send(MessageType::round_end, encode_round_end({round, pages}));
  meter_.add(result_.bytes_sent - start.bytes, Clock::now() - start.time);
  last_round_pages_ = pages;
}

void MigrationSource::send_state() {
  report(SourcePhase::sending_state, result_.rounds + 1, 0, 0);
  std::vector<Payload> payloads = vm_.capture_payloads();
  payloads.push_back(make_payload(kinds::kMemoryLayout, "ram", GuestMemoryLayout::of(vm_.memory())));
  const std::vector<uint8_t> state = encode_state_section(payloads);
  for (size_t at = 0; at < state.size(); at += kStateChunkBytes) {
    check_continue();
    send(MessageType::state, std::span(state).subspan(at, std::min(kStateChunkBytes, state.size() - at)));
  }
  send(MessageType::state_end, encode_state_end(state.size()));
}

void MigrationSource::await_ready() {
  report(SourcePhase::waiting_ready, result_.rounds + 1, 0, 0);
  Frame reply = receive_frame(channel_);
  if (reply.type == MessageType::reject) throw Refused(decode_reason(reply.type, reply.payload));
  if (reply.type != MessageType::ready) throw ProtocolError("expected Ready, got " + message_name(reply.type));
  expect_empty(reply.type, reply.payload);
}

void MigrationSource::commit() {
  {
    std::lock_guard lock(commit_mutex_);
    if (cancel_requested_) {
      result_.cancelled = true;
      throw Stopped("cancelled by the operator");
    }
    commit_sent_ = true;  // from here on the guest may run at the destination
  }
  report(SourcePhase::committing, result_.rounds + 1, 0, 0);
  send(MessageType::commit);
  Frame reply = receive_frame(channel_);
  if (reply.type != MessageType::commit_ack) throw ProtocolError("expected CommitAck, got " + message_name(reply.type));
  expect_empty(reply.type, reply.payload);
  result_.downtime = duration_cast<milliseconds>(Clock::now() - paused_at_);
}

void MigrationSource::send(MessageType type, std::span<const uint8_t> payload) {
  result_.bytes_sent += send_frame(channel_, type, payload);
}

void MigrationSource::check_continue() {
  if (cancel_requested_) {
    result_.cancelled = true;
    throw Stopped("cancelled by the operator");
  }
  if (deadline_ && Clock::now() >= *deadline_) {
    if (!paused_) stop_precopy_on_timeout();
    result_.timed_out = true;
    throw Stopped("not finished within " + seconds_text(options_.timeout) + " (the guest was already stopped)");
  }
  // The destination speaks during the transfer only to refuse.
  if (channel_.readable()) {
    Frame frame = receive_frame(channel_);
    if (frame.type == MessageType::reject) throw Refused(decode_reason(frame.type, frame.payload));
    throw ProtocolError("unexpected " + message_name(frame.type) + " from the destination");
  }
}

void MigrationSource::report(SourcePhase phase, uint32_t round, uint64_t round_pages, uint64_t dirty_pages) {
  if (!options_.on_progress) return;
  SourceProgress p;
  p.phase = phase;
  p.round = round;
  p.round_pages = round_pages;
  p.dirty_pages = dirty_pages;
  p.mib_per_s = meter_.bytes_per_second() / (1 << 20);
  p.estimated_downtime = estimate(dirty_pages);
  p.bytes_sent = result_.bytes_sent;
  last_report_ = Clock::now();
  p.elapsed = duration_cast<milliseconds>(last_report_ - started_);
  options_.on_progress(p);
}

void MigrationSource::fail(const std::exception& error) {
  std::string reason = error.what();
  const bool link_failed = dynamic_cast<const ChannelError*>(&error) != nullptr;
  const bool refused = dynamic_cast<const Refused*>(&error) != nullptr;
  if (link_failed) {
    // The destination may have refused and hung up: its Reject says why.
    try {
      channel_.set_io_timeout(kReasonWait);
      if (channel_.readable()) {
        Frame frame = receive_frame(channel_);
        if (frame.type == MessageType::reject)
          reason = "destination refused: " + decode_reason(frame.type, frame.payload) + " (" + reason + ")";
      }
    } catch (const std::exception&) {
    }
  }
  if (commit_sent_) {
    result_.outcome = SourceOutcome::commit_unknown;
    result_.error = "Commit was sent but not acknowledged (" + reason +
                    "): the destination may be running the guest, so it stays paused here";
  } else {
    result_.outcome = SourceOutcome::failed;
    result_.error = reason;
    if (!link_failed && !refused) {
      try {
        send(MessageType::abort, encode_reason(reason));
      } catch (const std::exception&) {
      }
    }
  }
  auto also = [this](const char* what, const std::exception& e) {
    result_.error += std::string("; ") + what + " failed: " + e.what();
  };
  if (tracking_) {
    tracking_ = false;
    try {
      vm_.stop_dirty_tracking();
    } catch (const std::exception& e) {
      also("stopping dirty tracking", e);
    }
  }
  if (paused_ && result_.outcome == SourceOutcome::failed) {
    try {
      vm_.resume();
      paused_ = false;
    } catch (const std::exception& e) {
      also("resuming the guest", e);
    }
  }
  if (paused_at_ != Clock::time_point{}) result_.downtime = duration_cast<milliseconds>(Clock::now() - paused_at_);
}

}  // namespace wren::migrate::live
