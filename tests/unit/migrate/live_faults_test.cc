// The link failing at every point of a live migration: a reset in the
// middle of each frame of either direction, a silent cut (only the
// no-progress timeout notices), corrupted bytes, the destination dying, and
// the commit handshake losing either message.
//
// The rule under test: before Commit is sent the source guest keeps (or
// resumes) running and the destination never runs; a lost Commit or
// CommitAck leaves the source paused (commit_unknown) because only then can
// the destination already be running it.
#include <gtest/gtest.h>

#include "live_fakes.h"

namespace wren::migrate::live {
namespace {

using namespace testing;
using std::chrono::milliseconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Transcript {
  std::vector<FrameAt> to_destination;
  std::vector<FrameAt> to_source;
};

// Three pre-copy rounds with a busy guest: the same frames every run.
Scenario deterministic() {
  Scenario s = fixed_rounds(3);
  s.link.io_timeout = milliseconds{2000};
  s.destination.reject_linger = milliseconds{200};
  return s;
}

Transcript record_successful_migration() {
  FakeSourceVm from;
  FakeDestinationVm to;
  busy_guest(from);
  std::unique_ptr<RecordingChannel> source_side, destination_side;
  Scenario setup = deterministic();
  setup.wrap_source = [&](Channel& c) -> Channel& { return *(source_side = std::make_unique<RecordingChannel>(c)); };
  setup.wrap_destination = [&](Channel& c) -> Channel& {
    return *(destination_side = std::make_unique<RecordingChannel>(c));
  };
  const Outcome out = migrate(from, to, setup);
  EXPECT_TRUE(out.source.ok()) << out.source.error;
  return {frames_in(source_side->sent), frames_in(destination_side->sent)};
}

const Transcript& transcript() {
  static const Transcript t = record_successful_migration();
  return t;
}

TEST(LiveFaults, TranscriptHasEveryPhase) {
  using enum MessageType;
  const auto& t = transcript();
  const std::vector<MessageType> want_sent{hello,     config, pages,     round_end, pages,     round_end, pages,
                                           round_end, pages,  round_end, state,     state_end, commit};
  EXPECT_EQ(types_of(t.to_destination), want_sent);
  EXPECT_EQ(types_of(t.to_source), (std::vector<MessageType>{welcome, config_ok, ready, commit_ack}));
}

struct Cut {
  bool to_destination;  // direction
  size_t frame;         // index in that direction
};

Outcome migrate_with_reset(const Cut& cut, FakeSourceVm& from, FakeDestinationVm& to) {
  const auto& frames = cut.to_destination ? transcript().to_destination : transcript().to_source;
  const FrameAt& f = frames.at(cut.frame);
  Scenario setup = deterministic();
  LinkFaults& faults = cut.to_destination ? setup.link.to_second : setup.link.to_first;
  faults.reset_after = f.offset + f.size / 2;  // in the middle of the frame
  busy_guest(from);
  return migrate(from, to, setup);
}

TEST(LiveFaults, ResetInTheMiddleOfEveryFrame) {
  for (bool to_destination : {true, false}) {
    const auto& frames = to_destination ? transcript().to_destination : transcript().to_source;
    for (size_t i = 0; i < frames.size(); ++i) {
      const MessageType type = frames[i].type;
      SCOPED_TRACE((to_destination ? "to destination, " : "to source, ") + message_name(type) + " #" +
                   std::to_string(i));
      FakeSourceVm from;
      FakeDestinationVm to;
      const Outcome out = migrate_with_reset({to_destination, i}, from, to);
      EXPECT_FALSE(out.source.ok());
      EXPECT_FALSE(from.tracking());
      if (type == MessageType::commit || type == MessageType::commit_ack) {
        EXPECT_EQ(out.source.outcome, SourceOutcome::commit_unknown) << out.source.error;
        EXPECT_TRUE(contains(out.source.error, "Commit was sent but not acknowledged")) << out.source.error;
        EXPECT_EQ(from.resumes, 0);  // paused: it may run at the destination
        EXPECT_TRUE(from.paused);
        // The destination runs exactly when Commit arrived whole.
        EXPECT_EQ(out.destination.committed, type == MessageType::commit_ack) << out.destination.error;
      } else {
        EXPECT_EQ(out.source.outcome, SourceOutcome::failed);
        EXPECT_TRUE(from.running()) << "pauses " << from.pauses << " resumes " << from.resumes;
        EXPECT_FALSE(out.destination.committed);
        EXPECT_FALSE(out.destination.error.empty());
      }
      if (!out.destination.committed) {
        EXPECT_FALSE(out.destination.error.empty());
      }
    }
  }
}

TEST(LiveFaults, CommitLostLeavesSourcePausedAndDestinationStopped) {
  const auto& frames = transcript().to_destination;
  FakeSourceVm from;
  FakeDestinationVm to;
  const Outcome out = migrate_with_reset({true, frames.size() - 1}, from, to);
  EXPECT_EQ(out.source.outcome, SourceOutcome::commit_unknown);
  EXPECT_TRUE(from.paused);
  EXPECT_FALSE(out.destination.committed);
  EXPECT_EQ(out.destination.error, "connection reset");
}

TEST(LiveFaults, CommitAckLostLeavesSourcePausedAndDestinationRunning) {
  const auto& frames = transcript().to_source;
  FakeSourceVm from;
  FakeDestinationVm to;
  const Outcome out = migrate_with_reset({false, frames.size() - 1}, from, to);
  EXPECT_EQ(out.source.outcome, SourceOutcome::commit_unknown);
  EXPECT_TRUE(from.paused);
  EXPECT_TRUE(out.destination.committed);
  EXPECT_EQ(contents(to.guest_memory()), from.memory_at_pause);
}

TEST(LiveFaults, SilentCutEndsInTimeoutNotAHang) {
  // Bytes vanish from the second round on (a veth taken down): nothing
  // fails until the no-progress timeout.
  const auto& frames = transcript().to_destination;
  Scenario setup = deterministic();
  setup.link.io_timeout = milliseconds{200};
  setup.link.capacity = 64 << 10;
  setup.link.to_second.blackhole_after = frames.at(4).offset;
  FakeSourceVm from;
  FakeDestinationVm to;
  busy_guest(from);
  const auto started = std::chrono::steady_clock::now();
  const Outcome out = migrate(from, to, setup);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds{3});
  EXPECT_EQ(out.source.outcome, SourceOutcome::failed);
  EXPECT_TRUE(from.running());
  EXPECT_FALSE(from.tracking());
  EXPECT_FALSE(out.destination.committed);
  // Whichever side times out first hangs up; the other then sees the end.
  EXPECT_TRUE(contains(out.source.error, "no progress") || contains(out.destination.error, "no progress"))
      << out.source.error << " / " << out.destination.error;
}

TEST(LiveFaults, SilentCutBothWaysWhilePaused) {
  // Both directions go silent once the state is on its way: the source
  // waits for Ready, times out, resumes.
  const auto& frames = transcript();
  Scenario setup = deterministic();
  setup.link.io_timeout = milliseconds{200};
  setup.link.to_second.blackhole_after = frames.to_destination.at(10).offset;  // State
  setup.link.to_first.blackhole_after = frames.to_source.at(2).offset;         // Ready
  FakeSourceVm from;
  FakeDestinationVm to;
  busy_guest(from);
  const Outcome out = migrate(from, to, setup);
  EXPECT_EQ(out.source.outcome, SourceOutcome::failed);
  EXPECT_EQ(from.pauses, 1);
  EXPECT_EQ(from.resumes, 1);
  EXPECT_FALSE(out.destination.committed);
}

TEST(LiveFaults, CorruptedFrameIsRefusedWithTheReason) {
  const auto& frames = transcript().to_destination;
  struct Case {
    uint64_t offset;
    const char* reason;
  };
  const FrameAt& round1 = frames.at(2);
  const FrameAt& round2 = frames.at(4);
  for (const Case& c :
       {Case{round1.offset + 100, "Pages frame: checksum mismatch"}, Case{round2.offset, "unknown message type 0xfa"},
        Case{round1.offset + round1.size - 1, "Pages frame: checksum mismatch"},
        Case{frames.at(1).offset + 7, "Config frame: checksum mismatch"}}) {
    SCOPED_TRACE(c.reason);
    Scenario setup = deterministic();
    setup.link.to_second.corrupt_at = c.offset;
    FakeSourceVm from;
    FakeDestinationVm to;
    busy_guest(from);
    const Outcome out = migrate(from, to, setup);
    EXPECT_EQ(out.source.outcome, SourceOutcome::failed);
    EXPECT_TRUE(contains(out.source.error, std::string("destination refused: ") + c.reason)) << out.source.error;
    EXPECT_TRUE(from.running());
    EXPECT_FALSE(out.destination.committed);
    EXPECT_EQ(out.destination.error, c.reason);
  }
}

TEST(LiveFaults, CorruptedReplyIsAnError) {
  const auto& frames = transcript().to_source;
  Scenario setup = deterministic();
  setup.link.to_first.corrupt_at = frames.at(2).offset;  // Ready's type
  FakeSourceVm from;
  FakeDestinationVm to;
  const Outcome out = migrate(from, to, setup);
  EXPECT_EQ(out.source.outcome, SourceOutcome::failed);
  EXPECT_EQ(out.source.error, "unknown message type 0xf6");
  EXPECT_TRUE(from.running());
  EXPECT_FALSE(out.destination.committed);
  EXPECT_EQ(out.destination.error, "the source aborted: unknown message type 0xf6");
}

TEST(LiveFaults, DestinationDiesDuringPrecopy) {
  FakeSourceVm from;
  FakeDestinationVm to;
  Channel* destination_end = nullptr;
  from.on_take = [&](int take) {
    write_page(from.guest_memory(), 3, static_cast<uint8_t>(take));
    if (take == 1) destination_end->close();
  };
  Scenario setup = deterministic();
  setup.with_channels = [&](Channel&, Channel& d) { destination_end = &d; };
  const Outcome out = migrate(from, to, setup);
  EXPECT_EQ(out.source.outcome, SourceOutcome::failed);
  EXPECT_EQ(out.source.error, "connection closed by the peer");
  EXPECT_EQ(from.pauses, 0);
  EXPECT_FALSE(from.tracking());
  EXPECT_FALSE(out.destination.committed);
}

TEST(LiveFaults, DestinationDiesDuringStopAndCopy) {
  FakeSourceVm from;
  FakeDestinationVm to;
  Channel* destination_end = nullptr;
  from.on_capture = [&] { destination_end->close(); };
  Scenario setup = deterministic();
  setup.with_channels = [&](Channel&, Channel& d) { destination_end = &d; };
  const Outcome out = migrate(from, to, setup);
  EXPECT_EQ(out.source.outcome, SourceOutcome::failed);
  EXPECT_EQ(from.pauses, 1);
  EXPECT_EQ(from.resumes, 1);
  EXPECT_FALSE(out.destination.committed);
}

}  // namespace
}  // namespace wren::migrate::live
