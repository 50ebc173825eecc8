// The live destination fuzz target's input (live_session_records.h) and its
// seeds (tests/fuzz/corpus/live_destination/): records become valid frames,
// and every seed is a session recorded from a real MigrationSource that still
// commits, so the fuzzer starts from sessions that reach every phase.
//   WREN_REGENERATE_FUZZ_SEEDS=1 build/tests/migrate_tests --gtest_filter='LiveDestinationSeeds.*'
// rewrites the seeds (after a protocol change).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "live_fakes.h"
#include "live_session_records.h"

namespace wren::migrate::live {
namespace {

using namespace testing;

const std::filesystem::path kSeedDir = std::filesystem::path(WREN_TESTS_DIR) / "fuzz" / "corpus" / "live_destination";

std::vector<uint8_t> records(std::initializer_list<std::pair<MessageType, std::vector<uint8_t>>> messages) {
  std::vector<uint8_t> out;
  for (const auto& [type, payload] : messages) append_session_record(out, type, payload);
  return out;
}

std::vector<MessageType> reply_types(const SessionOutcome& s) {
  std::vector<MessageType> out;
  for (const auto& f : s.replies) out.push_back(f.type);
  return out;
}

std::string invariant_of(const SessionOutcome& s) { return broken_invariant(s).value_or("holds"); }

TEST(LiveSessionRecords, TypeIsTheLowNibbleAndTheLastLengthIsClamped) {
  const std::vector<uint8_t> input{0x21, 3, 0, 0, 0, 'a', 'b', 'c', 0x0e, 100, 0, 0, 0, 'x', 'y'};
  const auto parsed = parse_session_records(input);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].type, MessageType::hello);
  EXPECT_EQ(std::vector<uint8_t>(parsed[0].payload.begin(), parsed[0].payload.end()),
            (std::vector<uint8_t>{'a', 'b', 'c'}));
  EXPECT_EQ(static_cast<int>(parsed[1].type), 14);
  EXPECT_EQ(parsed[1].payload.size(), 2u);
  // A record cut inside its length field still counts, with what is there.
  EXPECT_EQ(parse_session_records(std::vector<uint8_t>{0x03, 1}).size(), 1u);
}

TEST(LiveSessionRecords, AHelloAloneIsWelcomedThenTheStreamEnds) {
  const auto out = run_destination_session(records({{MessageType::hello, encode_hello(kSupportedVersions)}}));
  EXPECT_FALSE(out.result.committed);
  EXPECT_EQ(out.result.version, kProtocolV2);
  EXPECT_EQ(out.result.error, "connection closed by the peer");
  EXPECT_EQ(reply_types(out), std::vector<MessageType>{MessageType::welcome});
  EXPECT_EQ(invariant_of(out), "holds");
}

TEST(LiveSessionRecords, AProtocolErrorIsRejectedWithoutWaiting) {
  const auto out = run_destination_session(
      records({{MessageType::hello, encode_hello(kSupportedVersions)}, {MessageType::pages, {1, 0, 0, 0}}}));
  EXPECT_EQ(out.result.error, "unexpected Pages instead of Config");
  EXPECT_EQ(reply_types(out), (std::vector<MessageType>{MessageType::welcome, MessageType::reject}));
  EXPECT_FALSE(out.waited);  // the linger after Reject reads the queued end
  EXPECT_EQ(invariant_of(out), "holds");
}

TEST(LiveSessionRecords, TheProbeNoticesAReceiveThatWouldWait) {
  MemoryChannelOptions options;
  options.io_timeout = std::chrono::milliseconds{10};
  auto pipe = make_memory_channel_pair(options);
  BlockingProbe probe(*pipe.second);
  pipe.first->send(std::vector<uint8_t>{1});
  uint8_t b[4];
  EXPECT_EQ(probe.receive_some(b), 1u);
  EXPECT_FALSE(probe.would_block);
  EXPECT_THROW((void)probe.receive_some(b), ChannelTimeout);
  EXPECT_TRUE(probe.would_block);
}

TEST(LiveSessionRecords, AnUnknownTypeIsAProtocolError) {
  const auto out = run_destination_session(records({{MessageType{15}, {}}}));
  EXPECT_EQ(out.result.error, "unknown message type 0x0f");
  EXPECT_EQ(reply_types(out), std::vector<MessageType>{MessageType::reject});
}

// ---- the destination's protocol checks, on hand-made sessions --------------

uint64_t total_bytes(const std::vector<MemoryRegion>& layout) { return GuestMemory(layout).total_bytes(); }

// Hello and a matching Config for a destination with `layout`.
std::vector<uint8_t> negotiated(const std::vector<MemoryRegion>& layout = session_layout()) {
  return records({{MessageType::hello, encode_hello(kSupportedVersions)},
                  {MessageType::config, encode_vm_config(test_config(total_bytes(layout)))}});
}

// A Pages payload of round `round`: one zero run of `count` pages at gpa 0.
std::vector<uint8_t> zero_run_pages(uint32_t round, uint64_t count) {
  VectorSink out;
  put_u32(out, round);
  Crc32cSink batch(out);
  put_u8(batch, kPageTagZero);
  put_u64(batch, 0);
  put_u64(batch, count);
  put_u8(batch, kPageTagEnd);
  put_u64(batch, 0);
  put_u64(batch, count);
  put_u32(out, batch.crc());
  return std::move(out.bytes);
}

void append(std::vector<uint8_t>& input, MessageType type, std::vector<uint8_t> payload = {}) {
  append_session_record(input, type, payload);
}

TEST(LiveDestinationProtocol, APagesFrameOverThePageCapIsRefused) {
  // Guest RAM larger than the cap, so only the cap can refuse: a zero run is
  // 17 bytes however many pages it clears.
  const auto layout = small_layout(kMaxPagesPerFrame + 44);
  auto input = negotiated(layout);
  append(input, MessageType::pages, zero_run_pages(1, kMaxPagesPerFrame + 1));
  const auto out = run_destination_session(input, layout);
  EXPECT_EQ(out.result.error, "Pages message: guest memory stream: more than 256 pages");
  EXPECT_EQ(reply_types(out).back(), MessageType::reject);

  auto at_cap = negotiated(layout);
  append(at_cap, MessageType::pages, zero_run_pages(1, kMaxPagesPerFrame));
  append(at_cap, MessageType::round_end, encode_round_end({1, kMaxPagesPerFrame}));
  const auto accepted = run_destination_session(at_cap, layout);
  EXPECT_EQ(accepted.result.error, "connection closed by the peer");
  EXPECT_EQ(accepted.result.pages_received, kMaxPagesPerFrame);
  EXPECT_EQ(accepted.result.rounds, 1u);
}

TEST(LiveDestinationProtocol, RoundsAreCheckedAndEndBeforeTheState) {
  const auto refused = [](std::initializer_list<std::pair<MessageType, std::vector<uint8_t>>> messages) {
    auto input = negotiated();
    for (const auto& [type, payload] : messages) append(input, type, payload);
    const auto out = run_destination_session(input);
    EXPECT_EQ(invariant_of(out), "holds");
    EXPECT_EQ(reply_types(out).back(), MessageType::reject) << out.result.error;
    return out.result.error;
  };
  EXPECT_EQ(refused({{MessageType::pages, zero_run_pages(1, 2)}, {MessageType::round_end, encode_round_end({1, 3})}}),
            "RoundEnd 1 announces 3 pages; round 1 carried 2");
  EXPECT_EQ(refused({{MessageType::round_end, encode_round_end({2, 0})}, {MessageType::pages, zero_run_pages(2, 1)}}),
            "Pages of round 2 after round 2");
  EXPECT_EQ(refused({{MessageType::pages, zero_run_pages(1, 1)}, {MessageType::state, {1}}}), "State before RoundEnd");
  // An empty State chunk still starts the state section.
  EXPECT_EQ(refused({{MessageType::round_end, encode_round_end({1, 0})},
                     {MessageType::state, {}},
                     {MessageType::pages, zero_run_pages(2, 1)}}),
            "Pages after State");
  EXPECT_EQ(refused({{MessageType::round_end, encode_round_end({1, 0})},
                     {MessageType::state, {1, 2}},
                     {MessageType::round_end, encode_round_end({2, 0})}}),
            "RoundEnd after State");
  EXPECT_EQ(refused({{MessageType::state, {1, 2}}, {MessageType::state_end, encode_state_end(3)}}),
            "StateEnd announces 3 bytes, State frames carried 2");
}

// ---- seeds ----------------------------------------------------------------

// The guest writes within session_layout() every round: page 3 changes, a
// page of 10..17 gets data, page 7 (data in round 1) becomes zero.
void busy_small_guest(FakeSourceVm& vm) {
  vm.on_take = [&vm](int take) {
    write_page(vm.guest_memory(), 3, static_cast<uint8_t>(0x30 + take));
    write_page(vm.guest_memory(), 10 + static_cast<uint64_t>(take % 8), static_cast<uint8_t>(0x40 + take));
    write_page(vm.guest_memory(), 7, 0);
  };
}

// What a real source sends in a migration that commits, as records.
std::vector<uint8_t> recorded_session(Scenario setup, bool busy) {
  FakeSourceVm from(session_layout());
  FakeDestinationVm to(session_layout());
  if (busy) busy_small_guest(from);
  std::unique_ptr<RecordingChannel> recorder;
  setup.wrap_source = [&](Channel& c) -> Channel& {
    recorder = std::make_unique<RecordingChannel>(c);
    return *recorder;
  };
  const Outcome out = migrate(from, to, setup);
  EXPECT_TRUE(out.source.ok()) << out.source.error;
  EXPECT_TRUE(out.destination.committed) << out.destination.error;
  return session_records_from_wire(recorder->sent);
}

std::map<std::string, std::vector<uint8_t>> generate_seeds() {
  std::map<std::string, std::vector<uint8_t>> seeds;
  seeds["commit-v2-three-rounds"] = recorded_session(fixed_rounds(3), true);
  seeds["commit-v2-idle-rounds"] = recorded_session(fixed_rounds(3), false);  // bare RoundEnds
  Scenario small_frames = fixed_rounds(2);
  small_frames.source.pages_per_frame = 4;
  seeds["commit-v2-small-frames"] = recorded_session(small_frames, true);
  Scenario v1 = fixed_rounds(1);
  v1.source.versions = {kProtocolV1};
  seeds["commit-v1"] = recorded_session(v1, true);
  seeds["abort-after-config"] =
      records({{MessageType::hello, encode_hello(kSupportedVersions)},
               {MessageType::config, encode_vm_config(test_config(GuestMemory(session_layout()).total_bytes()))},
               {MessageType::abort, encode_reason("cancelled by the operator")}});
  return seeds;
}

void expect_seed_outcome(const std::string& name, const SessionOutcome& out) {
  EXPECT_EQ(invariant_of(out), "holds") << name;
  if (name.starts_with("commit-")) {
    EXPECT_TRUE(out.result.committed) << name << ": " << out.result.error;
    EXPECT_GE(out.result.rounds, 1u) << name;
  } else {
    EXPECT_EQ(out.result.error, "the source aborted: cancelled by the operator") << name;
  }
}

TEST(LiveDestinationSeeds, GeneratedSessionsCommitThroughTheFuzzInput) {
  const auto seeds = generate_seeds();
  const bool regenerate = std::getenv("WREN_REGENERATE_FUZZ_SEEDS") != nullptr;
  for (const auto& [name, bytes] : seeds) {
    expect_seed_outcome(name, run_destination_session(bytes));
    if (regenerate) {
      std::filesystem::create_directories(kSeedDir);
      std::ofstream(kSeedDir / name, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
  }
  EXPECT_EQ(run_destination_session(seeds.at("commit-v1")).result.version, kProtocolV1);
  EXPECT_EQ(run_destination_session(seeds.at("commit-v2-three-rounds")).result.rounds, 4u);  // 3 + stop-and-copy
}

// The session with the CRCs at the end of every page batch and state
// section zeroed, the records flagged for fix-up or not.
std::vector<uint8_t> with_zeroed_crcs(const std::vector<uint8_t>& session, uint8_t flags) {
  std::vector<uint8_t> out;
  for (auto r : parse_session_records(session)) {
    const bool checksummed = r.type == MessageType::pages || r.type == MessageType::state;
    if (checksummed) std::fill(r.payload.end() - 4, r.payload.end(), 0);
    append_session_record(out, r.type, r.payload, checksummed ? flags : 0);
  }
  return out;
}

TEST(LiveSessionRecords, FlaggedRecordsGetTheirInnerChecksumsFixed) {
  const auto session = recorded_session(fixed_rounds(1), true);
  EXPECT_TRUE(run_destination_session(with_zeroed_crcs(session, kSessionFixChecksums)).result.committed);
  EXPECT_EQ(run_destination_session(with_zeroed_crcs(session, 0)).result.error,
            "Pages message: guest memory stream: checksum mismatch");
}

TEST(LiveDestinationSeeds, CommittedSeedsStillCommit) {
  ASSERT_TRUE(std::filesystem::is_directory(kSeedDir)) << kSeedDir << ": run with WREN_REGENERATE_FUZZ_SEEDS=1";
  int sessions = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kSeedDir)) {
    std::ifstream file(entry.path(), std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    const std::string name = entry.path().filename().string();
    expect_seed_outcome(name, run_destination_session(bytes));
    sessions += name.starts_with("commit-");
  }
  EXPECT_GE(sessions, 4) << "seeds missing in " << kSeedDir << ": run with WREN_REGENERATE_FUZZ_SEEDS=1";
}

}  // namespace
}  // namespace wren::migrate::live
