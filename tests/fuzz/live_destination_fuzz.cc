// libFuzzer target for the destination side of live migration
// (migrate/live/destination.h): everything a possibly hostile source can
// send, through negotiation, the configuration check, pre-copy rounds, the
// state section, the import rules and the fake machine's restore, to
// Commit. A crash, a sanitizer report, a hang, or a broken invariant
// (__builtin_trap, the invariant printed first) is a finding.
//
// Input: the source's messages as records (u8 type, u32 length, payload),
// each sent as a valid frame, the whole stream queued before the destination
// runs: tests/unit/migrate/live_session_records.h.
// Seeds: whole sessions recorded from a real MigrationSource, written by
//   WREN_REGENERATE_FUZZ_SEEDS=1 build/tests/migrate_tests --gtest_filter='LiveDestinationSeeds.*'
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>

#include <spdlog/spdlog.h>

#include "unit/migrate/live_session_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  using namespace wren::migrate::live::testing;
  const SessionOutcome outcome = run_destination_session(std::span(data, size));
  if (auto broken = broken_invariant(outcome)) {
    std::fprintf(stderr, "broken invariant: %s\n", broken->c_str());
    __builtin_trap();
  }
  return 0;
}
