// Both live migration state machines over an in-memory link: successful
// migrations (memory dirtied during pre-copy, payloads, protocol v1 and v2,
// convergence by the downtime budget) and the refusals and stops that end
// one before any harm: versions, configuration, payloads, timeout, cancel.
#include <gtest/gtest.h>

#include <atomic>

#include "live_fakes.h"

namespace wren::migrate::live {
namespace {

using namespace testing;
using std::chrono::milliseconds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A source that failed cleanly: the guest runs as before, nothing tracked.
void expect_source_intact(const FakeSourceVm& vm, const SourceResult& r) {
  EXPECT_EQ(r.outcome, SourceOutcome::failed);
  EXPECT_FALSE(r.error.empty());
  EXPECT_TRUE(vm.running()) << "pauses " << vm.pauses << ", resumes " << vm.resumes;
  EXPECT_FALSE(vm.tracking());
}

TEST(LiveMigration, CopiesMemoryDirtiedDuringPrecopyAndPayloads) {
  FakeSourceVm from;
  FakeDestinationVm to;
  busy_guest(from);
  Scenario setup = fixed_rounds(3);
  std::vector<SourceProgress> progress;
  setup.source.on_progress = [&](const SourceProgress& p) { progress.push_back(p); };
  const Outcome out = migrate(from, to, setup);

  ASSERT_TRUE(out.source.ok()) << out.source.error;
  ASSERT_TRUE(out.destination.committed) << out.destination.error;
  EXPECT_EQ(out.source.version, kProtocolV2);
  EXPECT_EQ(out.source.rounds, 3u);
  EXPECT_EQ(out.destination.rounds, 4u);  // three pre-copy rounds and the stop-and-copy pass
  EXPECT_EQ(out.destination.pages_received, out.source.pages_sent);
  EXPECT_EQ(from.pauses, 1);
  EXPECT_EQ(from.resumes, 0);  // migrated: the source stays stopped
  EXPECT_FALSE(from.tracking());
  EXPECT_EQ(contents(to.guest_memory()), from.memory_at_pause);
  EXPECT_EQ(contents(to.guest_memory()), contents(from.guest_memory()));

  ASSERT_TRUE(to.taken);
  golden_machine::expect_golden(*to.taken);

  EXPECT_LE(out.source.downtime, out.source.total);
  EXPECT_GT(out.source.bytes_sent, out.source.pages_sent);
  std::vector<SourcePhase> phases;
  for (const auto& p : progress)
    if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
  EXPECT_EQ(phases,
            (std::vector<SourcePhase>{SourcePhase::negotiating, SourcePhase::checking_config, SourcePhase::precopy,
                                      SourcePhase::stop_and_copy, SourcePhase::sending_state,
                                      SourcePhase::waiting_ready, SourcePhase::committing, SourcePhase::done}));
  // Each pre-copy round after the first re-sends what the guest wrote (3 pages).
  EXPECT_EQ(progress[2].round_pages, from.guest_memory().total_bytes() / kPageSize);
  EXPECT_EQ(progress[3].round_pages, 3u);
  EXPECT_EQ(progress[3].dirty_pages, 3u);
}

TEST(LiveMigration, BackgroundWriterLosesNothing) {
  // A guest thread that keeps writing until paused, racing the rounds.
  FakeSourceVm from(small_layout(256));
  FakeDestinationVm to(small_layout(256));
  bool stop = false;
  std::atomic<uint64_t> writes{0};
  std::thread writer([&] {
    for (uint64_t n = 0;; ++n) {
      std::lock_guard lock(from.guest_lock);
      if (stop) return;
      if (from.paused) continue;
      ASSERT_TRUE(from.guest_memory().write_obj(((n * 37) % 256) * kPageSize + (n % 512) * 8, n));
      ++writes;
    }
  });
  // Each round lasts until the guest wrote a few hundred times more.
  from.on_take = [&](int) {
    const uint64_t target = writes + 300;
    while (writes < target) std::this_thread::yield();
  };
  Scenario setup;
  setup.source.downtime = milliseconds{1};
  setup.source.max_rounds = 8;
  const Outcome out = migrate(from, to, setup);
  {
    std::lock_guard lock(from.guest_lock);
    stop = true;
  }
  writer.join();
  ASSERT_TRUE(out.source.ok()) << out.source.error;
  ASSERT_TRUE(out.destination.committed) << out.destination.error;
  EXPECT_GE(writes.load(), 300u);
  EXPECT_EQ(contents(to.guest_memory()), from.memory_at_pause);
}

TEST(LiveMigration, ConvergesWhenTheRestFitsTheDowntimeBudget) {
  // 16 MiB/s; the guest dirties 256, 128, 64, ... pages: at 10 ms budget
  // (about 40 pages) pre-copy needs several rounds, then stops by itself.
  FakeSourceVm from(small_layout(512));
  FakeDestinationVm to(small_layout(512));
  from.on_take = [&](int take) {
    for (uint64_t i = 0; i < (256u >> take); ++i)
      write_page(from.guest_memory(), 100 + i, static_cast<uint8_t>(take + 1));
  };
  Scenario setup;
  setup.source.downtime = milliseconds{10};
  setup.link.to_second.bytes_per_second = 16 << 20;
  std::vector<SourceProgress> rounds;
  setup.source.on_progress = [&](const SourceProgress& p) {
    if (p.phase == SourcePhase::precopy && p.round > 0) rounds.push_back(p);
  };
  const Outcome out = migrate(from, to, setup);
  ASSERT_TRUE(out.source.ok()) << out.source.error;
  ASSERT_TRUE(out.destination.committed);
  EXPECT_GE(out.source.rounds, 3u);
  ASSERT_FALSE(rounds.empty());
  // Stopped on the first estimate within budget, and not before.
  for (size_t i = 0; i + 1 < rounds.size(); ++i) EXPECT_GT(rounds[i].estimated_downtime, milliseconds{10});
  EXPECT_LE(rounds.back().estimated_downtime, milliseconds{10});
  EXPECT_GT(rounds.back().mib_per_s, 1.0);
  EXPECT_LT(rounds.back().mib_per_s, 17.0);
  EXPECT_EQ(contents(to.guest_memory()), from.memory_at_pause);
}

TEST(LiveMigration, ReportsProgressDuringALongRound) {
  // 1 MiB of data at 8 MiB/s: round 1 takes about 125 ms.
  FakeSourceVm from(small_layout(256));
  FakeDestinationVm to(small_layout(256));
  for (uint64_t i = 0; i < 256; ++i) write_page(from.guest_memory(), i, 1);
  Scenario setup = fixed_rounds(1);
  setup.link.to_second.bytes_per_second = 8 << 20;
  setup.source.progress_interval = milliseconds{20};
  setup.source.pages_per_frame = 16;  // reports come between frames
  std::vector<SourceProgress> during;
  setup.source.on_progress = [&](const SourceProgress& p) {
    if (p.phase == SourcePhase::precopy && p.round == 1) during.push_back(p);
  };
  const Outcome out = migrate(from, to, setup);
  ASSERT_TRUE(out.source.ok()) << out.source.error;
  ASSERT_GE(during.size(), 3u);
  const uint64_t total = from.guest_memory().total_bytes() / kPageSize;
  for (size_t i = 0; i + 1 < during.size(); ++i) {
    EXPECT_LT(during[i].round_pages, during[i + 1].round_pages);
    EXPECT_EQ(during[i].round_pages + during[i].dirty_pages, total);  // sent + left
  }
  EXPECT_EQ(during.back().round_pages, total);  // the report after the round
}

TEST(LiveMigration, ProtocolV1SendsZeroPagesAsData) {
  auto run = [](std::vector<uint32_t> source_versions, std::vector<uint32_t> destination_versions) {
    FakeSourceVm from;
    FakeDestinationVm to;
    busy_guest(from);
    Scenario setup = fixed_rounds(2);
    setup.source.versions = source_versions;
    setup.destination.versions = destination_versions;
    Outcome out = migrate(from, to, setup);
    EXPECT_TRUE(out.source.ok()) << out.source.error;
    EXPECT_TRUE(out.destination.committed) << out.destination.error;
    EXPECT_EQ(contents(to.guest_memory()), from.memory_at_pause);
    return out;
  };
  const Outcome v2 = run({2, 1}, {2, 1});
  const Outcome v1_source = run({1}, {2, 1});
  const Outcome v1_destination = run({2, 1}, {1});
  EXPECT_EQ(v2.source.version, 2u);
  EXPECT_EQ(v1_source.source.version, 1u);
  EXPECT_EQ(v1_destination.source.version, 1u);
  // 80 pages, 6 with data: v1 sends every page's 4 KiB.
  EXPECT_GT(v1_source.source.bytes_sent, 80 * kPageSize);
  EXPECT_LT(v2.source.bytes_sent, 20 * kPageSize);
  // The same stream but for the Hello offering one version more.
  EXPECT_EQ(v1_source.source.bytes_sent + 4, v1_destination.source.bytes_sent);
}

TEST(LiveMigration, NoCommonVersionIsRefusedBeforeAnything) {
  FakeSourceVm from;
  FakeDestinationVm to;
  Scenario setup;
  setup.source.versions = {3};
  const Outcome out = migrate(from, to, setup);
  expect_source_intact(from, out.source);
  EXPECT_EQ(out.source.error,
            "destination refused: no common protocol version: the source speaks 3, this destination 2, 1");
  EXPECT_EQ(from.starts, 0);
  EXPECT_EQ(from.pauses, 0);
  EXPECT_FALSE(out.destination.committed);
  EXPECT_EQ(out.destination.error, "no common protocol version: the source speaks 3, this destination 2, 1");
}

struct ConfigCase {
  const char* name;
  std::function<void(VmConfig&)> change;  // applied to the destination's
  const char* message;
};

class LiveConfigMismatch : public ::testing::TestWithParam<ConfigCase> {};

TEST_P(LiveConfigMismatch, RefusedBeforeAnyPage) {
  FakeSourceVm from;
  FakeDestinationVm to;
  VmConfig config = from.config_value();
  GetParam().change(config);
  to.set_config(config);
  std::unique_ptr<RecordingChannel> recorder;
  Scenario setup;
  setup.wrap_source = [&](Channel& c) -> Channel& {
    recorder = std::make_unique<RecordingChannel>(c);
    return *recorder;
  };
  const Outcome out = migrate(from, to, setup);
  expect_source_intact(from, out.source);
  EXPECT_EQ(out.source.error, std::string("destination refused: configuration mismatch: ") + GetParam().message);
  EXPECT_EQ(out.destination.error, std::string("configuration mismatch: ") + GetParam().message);
  EXPECT_FALSE(out.destination.committed);
  EXPECT_EQ(from.starts, 0);
  EXPECT_EQ(to.restores, 0);
  // On the wire: Hello and Config, nothing more.
  EXPECT_EQ(types_of(frames_in(recorder->sent)), (std::vector<MessageType>{MessageType::hello, MessageType::config}));
}

INSTANTIATE_TEST_SUITE_P(
    Each, LiveConfigMismatch,
    ::testing::Values(ConfigCase{"Memory", [](VmConfig& c) { c.memory_bytes *= 2; },
                                 "memory: source 320 KiB, destination 640 KiB"},
                      ConfigCase{"Vcpus", [](VmConfig& c) { c.vcpus = 2; }, "vCPUs: source 1, destination 2"},
                      ConfigCase{"CpuModel", [](VmConfig& c) { c.cpu_model = "host"; },
                                 "CPU model: source 'baseline', destination 'host'"},
                      ConfigCase{"NicQueues", [](VmConfig& c) { c.devices[0].params["queues"] = "2"; },
                                 "device net0 (virtio-net) queues: source '1', destination '2'"},
                      ConfigCase{"NicFeatureParam", [](VmConfig& c) { c.devices[0].params.erase("mac-change"); },
                                 "device net0 (virtio-net) mac-change: source 'on', destination does not have it"},
                      ConfigCase{"MissingDevice", [](VmConfig& c) { c.devices.pop_back(); },
                                 "device com1: source has it (uart16550), destination does not"},
                      ConfigCase{"ExtraDevice",
                                 [](VmConfig& c) {
                                   c.devices.push_back({"virtio-net", "net1", {}});
                                 },
                                 "device net1: source does not have it, destination has it (virtio-net)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(LiveMigration, DestinationRejectingAPayloadKeepsTheSourceRunning) {
  FakeSourceVm from;
  FakeDestinationVm to;
  busy_guest(from);
  to.restore_hook = [](Import&) -> Status {
    return Failure{"virtio-net/device v1 (net0): queue 0 size 512 exceeds 256"};
  };
  const Outcome out = migrate(from, to, fixed_rounds(2));
  expect_source_intact(from, out.source);
  EXPECT_EQ(from.pauses, 1);  // refused after stop-and-copy: resumed
  EXPECT_EQ(out.source.error, "destination refused: virtio-net/device v1 (net0): queue 0 size 512 exceeds 256");
  EXPECT_FALSE(out.destination.committed);
  EXPECT_EQ(out.destination.error, "virtio-net/device v1 (net0): queue 0 size 512 exceeds 256");
}

TEST(LiveMigration, DestinationRestoreThrowingIsARefusal) {
  FakeSourceVm from;
  FakeDestinationVm to;
  to.restore_hook = [](Import&) -> Status { throw std::runtime_error("KVM_SET_REGS: Invalid argument"); };
  const Outcome out = migrate(from, to, {});
  expect_source_intact(from, out.source);
  EXPECT_EQ(out.source.error, "destination refused: KVM_SET_REGS: Invalid argument");
  EXPECT_FALSE(out.destination.committed);
}

TEST(LiveMigration, ImportRulesApply) {
  {
    // A payload the destination machine does not take.
    FakeSourceVm from;
    FakeDestinationVm to;
    from.payloads.push_back(make_payload(kinds::kUart, "com2", golden::uart()));
    const Outcome out = migrate(from, to, {});
    expect_source_intact(from, out.source);
    EXPECT_TRUE(contains(out.source.error, "platform/uart16550 v1 (com2): unexpected payload")) << out.source.error;
    EXPECT_FALSE(out.destination.committed);
  }
  {
    // A kind this Wren does not know.
    FakeSourceVm from;
    FakeDestinationVm to;
    from.payloads.push_back(Payload{"virtio-rng/device", 1, "rng0", {1, 2, 3}});
    const Outcome out = migrate(from, to, {});
    expect_source_intact(from, out.source);
    EXPECT_TRUE(contains(out.source.error, "virtio-rng/device v1 (rng0): unknown payload kind")) << out.source.error;
    EXPECT_EQ(to.restores, 0);
  }
  {
    // A required payload missing.
    FakeSourceVm from;
    FakeDestinationVm to;
    from.payloads.erase(from.payloads.begin());
    const Outcome out = migrate(from, to, {});
    expect_source_intact(from, out.source);
    EXPECT_TRUE(contains(out.source.error, "missing required payload kvm/vcpu (cpu0)")) << out.source.error;
  }
}

TEST(LiveMigration, TimeoutCancelsAMigrationThatCannotConverge) {
  // 8 MiB/s and 300 dirty pages a round: ~150 ms to send, budget 20 ms.
  FakeSourceVm from(small_layout(512));
  FakeDestinationVm to(small_layout(512));
  from.on_take = [&](int take) {
    for (uint64_t i = 0; i < 300; ++i) write_page(from.guest_memory(), 100 + i, static_cast<uint8_t>(take + 1));
  };
  Scenario setup;
  setup.source.downtime = milliseconds{20};
  setup.source.timeout = milliseconds{600};
  setup.link.to_second.bytes_per_second = 8 << 20;
  const auto started = std::chrono::steady_clock::now();
  const Outcome out = migrate(from, to, setup);
  const auto took = std::chrono::steady_clock::now() - started;
  expect_source_intact(from, out.source);
  EXPECT_TRUE(out.source.timed_out);
  EXPECT_EQ(from.pauses, 0);  // never forced into stop-and-copy
  EXPECT_TRUE(contains(out.source.error, "did not converge within 0.6 s")) << out.source.error;
  EXPECT_TRUE(contains(out.source.error, "over the downtime budget of 20 ms")) << out.source.error;
  EXPECT_LT(took, std::chrono::seconds{3});
  EXPECT_FALSE(out.destination.committed);
  EXPECT_TRUE(contains(out.destination.error, "the source aborted: did not converge")) << out.destination.error;
}

TEST(LiveMigration, MaxRoundsForcesStopAndCopy) {
  FakeSourceVm from;
  FakeDestinationVm to;
  busy_guest(from);
  Scenario setup = fixed_rounds(1);
  const Outcome out = migrate(from, to, setup);
  ASSERT_TRUE(out.source.ok()) << out.source.error;
  EXPECT_EQ(out.source.rounds, 1u);
  EXPECT_EQ(contents(to.guest_memory()), from.memory_at_pause);
}

TEST(LiveMigration, CancelFromAnotherThreadDuringPrecopy) {
  FakeSourceVm from;
  FakeDestinationVm to;
  MigrationSource* source = nullptr;
  from.on_take = [&](int take) {
    write_page(from.guest_memory(), 3, static_cast<uint8_t>(take));
    if (take == 1) std::thread([&] { EXPECT_TRUE(source->cancel()); }).join();
  };
  Scenario setup = fixed_rounds(5);
  setup.with_source = [&](MigrationSource& s) { source = &s; };
  const Outcome out = migrate(from, to, setup);
  expect_source_intact(from, out.source);
  EXPECT_TRUE(out.source.cancelled);
  EXPECT_EQ(out.source.error, "cancelled by the operator");
  EXPECT_EQ(from.pauses, 0);
  EXPECT_EQ(out.destination.error, "the source aborted: cancelled by the operator");
  EXPECT_FALSE(out.destination.committed);
}

TEST(LiveMigration, CancelWhilePausedResumesTheGuest) {
  FakeSourceVm from;
  FakeDestinationVm to;
  MigrationSource* source = nullptr;
  from.on_capture = [&] { std::thread([&] { EXPECT_TRUE(source->cancel()); }).join(); };
  Scenario setup;
  setup.with_source = [&](MigrationSource& s) { source = &s; };
  const Outcome out = migrate(from, to, setup);
  expect_source_intact(from, out.source);
  EXPECT_EQ(from.pauses, 1);
  EXPECT_EQ(from.resumes, 1);
  EXPECT_TRUE(out.source.cancelled);
  EXPECT_FALSE(out.destination.committed);
}

TEST(LiveMigration, CancelAfterCommitIsRefused) {
  FakeSourceVm from;
  FakeDestinationVm to;
  MigrationSource* source = nullptr;
  std::vector<bool> accepted;
  Scenario setup;
  setup.with_source = [&](MigrationSource& s) { source = &s; };
  setup.source.on_progress = [&](const SourceProgress& p) {
    if (p.phase == SourcePhase::committing || p.phase == SourcePhase::done)
      std::thread([&] { accepted.push_back(source->cancel()); }).join();
  };
  const Outcome out = migrate(from, to, setup);
  ASSERT_TRUE(out.source.ok()) << out.source.error;
  EXPECT_FALSE(out.source.cancelled);
  EXPECT_EQ(accepted, (std::vector<bool>{false, false}));
}

TEST(LiveMigration, SourceVmFailureAbortsAndResumes) {
  FakeSourceVm from;
  FakeDestinationVm to;
  from.on_capture = [] { throw std::runtime_error("KVM_GET_REGS: Bad address"); };
  const Outcome out = migrate(from, to, {});
  expect_source_intact(from, out.source);
  EXPECT_EQ(out.source.error, "KVM_GET_REGS: Bad address");
  EXPECT_EQ(out.destination.error, "the source aborted: KVM_GET_REGS: Bad address");
}

}  // namespace
}  // namespace wren::migrate::live
