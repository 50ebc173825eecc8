#include "migrate/live/destination.h"

#include "migrate/guest_pages.h"
#include "migrate/kinds.h"
#include "migrate/stream.h"

namespace wren::migrate::live {

namespace {

// The state section's cap plus room for its header.
constexpr uint64_t kMaxStateSectionBytes = kMaxStateBytes + (4ull << 20);

// This side refuses: Reject tells the source why.
class Refusal : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The source gave up (Abort): nothing to answer.
class SourceAborted : public std::runtime_error {
 public:
  explicit SourceAborted(const std::string& reason) : std::runtime_error("the source aborted: " + reason) {}
};

[[noreturn]] void unexpected(const Frame& frame, const char* when) {
  if (frame.type == MessageType::abort) throw SourceAborted(decode_reason(frame.type, frame.payload));
  throw ProtocolError("unexpected " + message_name(frame.type) + " " + when);
}

}  // namespace

const char* phase_name(DestinationPhase phase) {
  switch (phase) {
    case DestinationPhase::negotiating: return "negotiating";
    case DestinationPhase::checking_config: return "checking-config";
    case DestinationPhase::receiving_memory: return "receiving-memory";
    case DestinationPhase::loading_state: return "loading-state";
    case DestinationPhase::waiting_commit: return "waiting-commit";
    case DestinationPhase::done: return "done";
  }
  return "?";
}

MigrationDestination::MigrationDestination(DestinationVm& vm, Channel& channel, DestinationOptions options)
    : vm_(vm), channel_(channel), options_(std::move(options)) {
  if (!options_.registry) options_.registry = &kinds::default_registry();
}

DestinationResult MigrationDestination::run() {
  try {
    negotiate();
    check_config();
    receive_memory_and_state();
    load_state();
    await_commit();
  } catch (const SourceAborted& e) {
    result_.error = e.what();
  } catch (const ChannelError& e) {
    result_.error = e.what();
  } catch (const std::exception& e) {
    // Refusals, protocol errors, and anything the VM threw: tell the source.
    result_.error = e.what();
    refuse_and_linger(result_.error);
  }
  if (result_.committed) report(DestinationPhase::done);
  channel_.close();
  return result_;
}

Frame MigrationDestination::next_frame() {
  Frame frame = receive_frame(channel_);
  result_.bytes_received += kFrameHeaderBytes + frame.payload.size() + kFrameTrailerBytes;
  return frame;
}

void MigrationDestination::negotiate() {
  report(DestinationPhase::negotiating);
  const Frame hello = next_frame();
  if (hello.type != MessageType::hello) unexpected(hello, "instead of Hello");
  const std::vector<uint32_t> offered = decode_hello(hello.payload);
  const auto version = choose_version(offered, options_.versions);
  if (!version)
    throw Refusal("no common protocol version: the source speaks " + version_list(offered) + ", this destination " +
                  version_list(options_.versions));
  result_.version = *version;
  send_frame(channel_, MessageType::welcome, encode_welcome(*version));
}

void MigrationDestination::check_config() {
  report(DestinationPhase::checking_config);
  const Frame frame = next_frame();
  if (frame.type != MessageType::config) unexpected(frame, "instead of Config");
  const VmConfig source = decode_vm_config(frame.payload);
  if (auto difference = first_difference(source, vm_.config())) throw Refusal("configuration mismatch: " + *difference);
  send_frame(channel_, MessageType::config_ok);
}

void MigrationDestination::receive_memory_and_state() {
  report(DestinationPhase::receiving_memory);
  for (;;) {
    const Frame frame = next_frame();
    switch (frame.type) {
      case MessageType::pages:
        if (state_started_) throw ProtocolError("Pages after State");
        receive_pages(frame);
        break;
      case MessageType::round_end:
        if (state_started_) throw ProtocolError("RoundEnd after State");
        end_round(frame);
        break;
      case MessageType::state:
        if (open_round_ != 0) throw ProtocolError("State before RoundEnd");
        state_started_ = true;
        if (state_.size() + frame.payload.size() > kMaxStateSectionBytes)
          throw ProtocolError("the state section exceeds " + std::to_string(kMaxStateSectionBytes) + " bytes");
        state_.insert(state_.end(), frame.payload.begin(), frame.payload.end());
        break;
      case MessageType::state_end:
        if (decode_state_end(frame.payload) != state_.size())
          throw ProtocolError("StateEnd announces " + std::to_string(decode_state_end(frame.payload)) +
                              " bytes, State frames carried " + std::to_string(state_.size()));
        return;
      default: unexpected(frame, "while receiving memory");
    }
  }
}

void MigrationDestination::receive_pages(const Frame& frame) {
  SpanSource source(frame.payload);
  const auto round = get_u32(source);
  if (!round) throw ProtocolError("Pages message: truncated");
  const bool continues = open_round_ != 0 && *round == open_round_;
  const bool opens = open_round_ == 0 && *round > ended_round_;
  if (!continues && !opens)
    throw ProtocolError("Pages of round " + std::to_string(*round) + " after round " + std::to_string(ended_round_) +
                        (open_round_ ? " while round " + std::to_string(open_round_) + " is open" : ""));
  open_round_ = *round;
  // The cap bounds the work one frame causes (a zero run is a few bytes).
  auto stats = read_page_batch(source, vm_.memory(), kMaxPagesPerFrame);
  if (!stats) throw ProtocolError("Pages message: " + stats.error());
  if (source.remaining() != 0) throw ProtocolError("Pages message: bytes after the page batch");
  if (result_.version < kProtocolV2 && stats->zero_pages != 0)
    throw ProtocolError("Pages message: zero-page runs are not part of protocol v" + std::to_string(result_.version));
  round_pages_ += stats->data_pages + stats->zero_pages;
  result_.pages_received += stats->data_pages + stats->zero_pages;
}

void MigrationDestination::end_round(const Frame& frame) {
  const RoundEnd end = decode_round_end(frame.payload);
  // A round without pages (nothing was dirty) has no Pages frame to open it.
  const uint32_t round = open_round_ ? open_round_ : end.round;
  if (end.round != round || round <= ended_round_ || end.pages != round_pages_)
    throw ProtocolError("RoundEnd " + std::to_string(end.round) + " announces " + std::to_string(end.pages) +
                        " pages; round " + std::to_string(round) + " carried " + std::to_string(round_pages_));
  ended_round_ = round;
  open_round_ = 0;
  round_pages_ = 0;
  result_.rounds = round;
  report(DestinationPhase::receiving_memory);
}

void MigrationDestination::load_state() {
  report(DestinationPhase::loading_state);
  auto payloads = decode_state_section(state_);
  if (!payloads) throw Refusal(payloads.error());
  auto import = Import::create(*options_.registry, std::move(payloads).value());
  if (!import) throw Refusal(import.error());
  auto layout = import->take(kinds::kMemoryLayout, "ram");
  if (!layout) throw Refusal(layout.error());
  if (auto problem = check_layout_matches(*layout, vm_.memory())) throw Refusal(*problem);
  if (auto restored = vm_.restore(*import); !restored) throw Refusal(restored.error());
  if (auto done = import->finish(); !done) throw Refusal(done.error());
  send_frame(channel_, MessageType::ready);
}

void MigrationDestination::await_commit() {
  report(DestinationPhase::waiting_commit);
  const Frame frame = next_frame();
  if (frame.type != MessageType::commit) unexpected(frame, "instead of Commit");
  expect_empty(frame.type, frame.payload);
  // From Commit on the source never resumes the guest by itself, so it runs
  // here even if the acknowledgement gets lost.
  result_.committed = true;
  try {
    send_frame(channel_, MessageType::commit_ack);
  } catch (const ChannelError&) {
  }
}

void MigrationDestination::refuse_and_linger(const std::string& reason) {
  try {
    send_frame(channel_, MessageType::reject, encode_reason(reason));
    const auto until = std::chrono::steady_clock::now() + options_.reject_linger;
    channel_.set_io_timeout(options_.reject_linger);
    uint8_t scratch[64 << 10];
    while (std::chrono::steady_clock::now() < until) (void)channel_.receive_some(scratch);
  } catch (const ChannelError&) {
    // The source hung up (or the link is gone): either way, done.
  }
}

void MigrationDestination::report(DestinationPhase phase) {
  if (!options_.on_progress) return;
  options_.on_progress({phase, result_.rounds, result_.pages_received, result_.bytes_received});
}

}  // namespace wren::migrate::live
