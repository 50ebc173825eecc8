// Reply shapes against QEMU's QAPI schema: RxFilterInfo (qapi/net.json), StatusInfo and SHUTDOWN (qapi/run-state.json),
// MigrationInfo / MigrationStats (qapi/migration.json), StatsResult /
// StatsSchema and the stats enums (qapi/stats.json). Wren's own facts go
// under the one extra member "wren", which QEMU clients ignore. The kName
// sets below are compared with a live QEMU's query-qmp-schema by
// tests/integration/check_qapi_names.py (ctest qapi_names).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "unit/hypervisor/kvm_stats_blob.h"
#include "vmm/api/migration_report.h"
#include "vmm/api/nic_report.h"
#include "vmm/api/run_state_report.h"
#include "vmm/api/stats_report.h"

namespace wren {
namespace {

using json = nlohmann::json;

std::set<std::string> keys(const json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) out.insert(k);
  return out;
}

// qapi/net.json, struct RxFilterInfo: every member is mandatory.
const std::set<std::string> kRxFilterInfo = {"name",     "promiscuous",       "multicast",          "unicast",
                                             "vlan",     "broadcast-allowed", "multicast-overflow", "unicast-overflow",
                                             "main-mac", "vlan-table",        "unicast-table",      "multicast-table"};
// qapi/net.json, enum RxState.
const std::set<std::string> kRxState = {"normal", "none", "all"};
// qapi/migration.json (QEMU 7.2), MigrationInfo (all optional) and MigrationStatus.
const std::set<std::string> kMigrationInfo = {
    "status",
    "disk",
    "ram",
    "vfio",
    "xbzrle-cache",
    "total-time",
    "expected-downtime",
    "downtime",
    "setup-time",
    "cpu-throttle-percentage",
    "error-desc",
    "blocked-reasons",
    "postcopy-blocktime",
    "postcopy-vcpu-blocktime",
    "compression",
    "socket-address",
};
const std::set<std::string> kMigrationStatus = {"none",
                                                "setup",
                                                "cancelling",
                                                "cancelled",
                                                "active",
                                                "postcopy-active",
                                                "postcopy-paused",
                                                "postcopy-recover",
                                                "completed",
                                                "failed",
                                                "colo",
                                                "pre-switchover",
                                                "device",
                                                "wait-unplug"};
// qapi/migration.json, MigrationStats (QEMU 7.2 members).
const std::set<std::string> kMigrationStats = {"transferred",      "remaining",         "total",
                                               "duplicate",        "skipped",           "normal",
                                               "normal-bytes",     "dirty-pages-rate",  "mbps",
                                               "dirty-sync-count", "postcopy-requests", "page-size",
                                               "multifd-bytes",    "pages-per-second",  "precopy-bytes",
                                               "downtime-bytes",   "postcopy-bytes",    "dirty-sync-missed-zero-copy"};

std::set<std::string> without_wren(const json& j) {
  auto k = keys(j);
  EXPECT_EQ(k.erase("wren"), 1u) << "Wren's facts belong under \"wren\"";
  return k;
}

bool subset(const std::set<std::string>& a, const std::set<std::string>& of) {
  for (const auto& x : a)
    if (!of.count(x)) return ADD_FAILURE() << "not in QEMU's schema: " << x, false;
  return true;
}

RxFilterReport report() {
  RxFilterReport r;
  r.name = "net0";
  r.filter = RxFilter::after_reset(*MacAddress::parse("52:54:00:12:34:56"), true);
  return r;
}

TEST(RxFilterInfoShape, HasExactlyQemusMembersPlusWren) {
  const json j = rx_filter_json(report());
  EXPECT_EQ(without_wren(j), kRxFilterInfo);
  EXPECT_TRUE(j["name"].is_string());
  for (const char* b : {"promiscuous", "broadcast-allowed", "multicast-overflow", "unicast-overflow"})
    EXPECT_TRUE(j[b].is_boolean()) << b;
  for (const char* s : {"multicast", "unicast", "vlan"}) EXPECT_EQ(kRxState.count(j[s].get<std::string>()), 1u) << s;
  for (const char* a : {"vlan-table", "unicast-table", "multicast-table"}) EXPECT_TRUE(j[a].is_array()) << a;
  EXPECT_EQ(j["main-mac"], "52:54:00:12:34:56");
  EXPECT_TRUE(j["wren"].contains("counters"));
  EXPECT_TRUE(j["wren"].contains("host_filter"));
}

TEST(RxFilterInfoShape, MapsTheFlagsAsQemusVirtioNet) {
  auto r = report();
  auto& f = r.filter;
  f.promisc = false;
  f.set_vlan(5, true);
  f.set_vlan(100, true);
  f.unicast = {*MacAddress::parse("52:54:00:00:00:01")};
  f.multicast = {*MacAddress::parse("01:00:5e:00:00:01")};
  json j = rx_filter_json(r);
  EXPECT_EQ(j["promiscuous"], false);
  EXPECT_EQ(j["unicast"], "normal");
  EXPECT_EQ(j["multicast"], "normal");
  EXPECT_EQ(j["vlan"], "normal");
  EXPECT_EQ(j["vlan-table"], json({5, 100}));
  EXPECT_EQ(j["broadcast-allowed"], true);
  EXPECT_EQ(j["unicast-table"], json({"52:54:00:00:00:01"}));
  EXPECT_EQ(j["multicast-table"], json({"01:00:5e:00:00:01"}));

  f.allmulti = f.alluni = true;
  f.nobcast = true;
  j = rx_filter_json(r);
  EXPECT_EQ(j["unicast"], "all");
  EXPECT_EQ(j["multicast"], "all");
  EXPECT_EQ(j["broadcast-allowed"], false);
  f.nomulti = f.nouni = true;  // "no" wins over "all"
  j = rx_filter_json(r);
  EXPECT_EQ(j["unicast"], "none");
  EXPECT_EQ(j["multicast"], "none");

  f.multicast.clear();
  f.multi_overflow = true;
  f.uni_overflow = true;
  j = rx_filter_json(r);
  EXPECT_EQ(j["multicast-overflow"], true);
  EXPECT_EQ(j["unicast-overflow"], true);
}

TEST(RxFilterInfoShape, VlanFilteringWithAnEmptyTableAdmitsNoVlan) {
  const json j = rx_filter_json(report());  // filtering, no VLAN added
  EXPECT_EQ(j["vlan"], "none");
  EXPECT_EQ(j["vlan-table"], json::array());
}

TEST(RxFilterInfoShape, WithoutVlanFilteringEveryVlanPasses) {
  auto r = report();
  r.filter = RxFilter::after_reset(*MacAddress::parse("52:54:00:12:34:56"), false);
  const json j = rx_filter_json(r);
  EXPECT_EQ(j["vlan"], "all");
  EXPECT_EQ(j["vlan-table"], json::array());
}

TEST(MigrationInfoShape, BeforeAnyMigrationOnlyWrensMember) {
  const json j = migration_info_json({{"status", "none"}}, 256 << 20);
  EXPECT_EQ(keys(j), std::set<std::string>{"wren"});
}

TEST(MigrationInfoShape, ActiveMigration) {
  const json s = {{"status", "active"}, {"phase", "pre-copy"}, {"round", 3},
                  {"pages_sent", 1000}, {"dirty_pages", 10},   {"mbps", 100.0},
                  {"bytes", 4'100'000}, {"elapsed_ms", 1234},  {"estimated_downtime_ms", 12}};
  const json j = migration_info_json(s, 256 << 20);
  EXPECT_TRUE(subset(without_wren(j), kMigrationInfo));
  EXPECT_EQ(j["wren"], s);
  EXPECT_EQ(j["status"], "active");
  EXPECT_TRUE(subset(keys(j["ram"]), kMigrationStats));
  EXPECT_EQ(j["ram"]["transferred"], 4'100'000);
  EXPECT_EQ(j["ram"]["remaining"], 10 * 4096);
  EXPECT_EQ(j["ram"]["total"], 256 << 20);
  EXPECT_EQ(j["ram"]["normal"], 1000);
  EXPECT_EQ(j["ram"]["dirty-sync-count"], 3);
  EXPECT_DOUBLE_EQ(j["ram"]["mbps"].get<double>(), 800.0);  // QEMU's mbps is megabits
  EXPECT_EQ(j["total-time"], 1234);
  EXPECT_EQ(j["expected-downtime"], 12);
  EXPECT_FALSE(j.contains("downtime"));
}

TEST(MigrationInfoShape, FinishedMigrations) {
  json j = migration_info_json({{"status", "completed"}, {"total_ms", 900}, {"downtime_ms", 40}, {"bytes", 5}}, 1);
  EXPECT_TRUE(subset(without_wren(j), kMigrationInfo));
  EXPECT_EQ(j["total-time"], 900);
  EXPECT_EQ(j["downtime"], 40);
  EXPECT_EQ(j["ram"]["remaining"], 0);
  j = migration_info_json({{"status", "cancelled"}, {"error", "cancelled by the user"}}, 1);
  EXPECT_EQ(j["error-desc"], "cancelled by the user");
  j = migration_info_json({{"status", "failed"}, {"error", "connection refused"}}, 1);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error-desc"], "connection refused");
}

TEST(MigrationEventShape, StatusIsQemusEnum) {
  for (const char* st : {"active", "completed", "failed", "cancelled", "something-new"}) {
    const json j = migration_event_json({{"status", st}, {"phase", "x"}});
    EXPECT_EQ(without_wren(j), std::set<std::string>{"status"});
    EXPECT_EQ(kMigrationStatus.count(j["status"].get<std::string>()), 1u) << st;
  }
}

}  // namespace
}  // namespace wren

namespace wren {
namespace {

// qapi/run-state.json: StatusInfo, RunState, ShutdownCause.
const std::set<std::string> kStatusInfo = {"running", "singlestep", "status"};
const std::set<std::string> kRunState = {"debug",      "inmigrate",   "internal-error", "io-error",
                                         "paused",     "postmigrate", "prelaunch",      "finish-migrate",
                                         "restore-vm", "running",     "save-vm",        "shutdown",
                                         "suspended",  "watchdog",    "guest-panicked", "colo"};
const std::set<std::string> kShutdownCause = {
    "none",           "host-error",  "host-qmp-quit", "host-qmp-system-reset", "host-signal",  "host-ui",
    "guest-shutdown", "guest-reset", "guest-panic",   "subsystem-reset",       "snapshot-load"};

std::set<std::string> member_names(const nlohmann::json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) out.insert(k);
  return out;
}

TEST(StatusInfoShape, RunningAndPaused) {
  for (bool paused : {false, true}) {
    auto j = status_info_json(paused, 2, 256 << 20);
    EXPECT_EQ(j["wren"], nlohmann::json({{"cpus", 2}, {"memory", 256 << 20}}));
    j.erase("wren");
    EXPECT_EQ(member_names(j), kStatusInfo);
    EXPECT_EQ(j["running"], !paused);
    EXPECT_EQ(j["status"], paused ? "paused" : "running");
    EXPECT_EQ(kRunState.count(j["status"].get<std::string>()), 1u);
  }
}

TEST(ShutdownEventShape, ReasonsAreQemusShutdownCauses) {
  const std::pair<ShutdownCause, bool> causes[] = {{ShutdownCause::kGuestShutdown, true},
                                                   {ShutdownCause::kGuestReset, true},
                                                   {ShutdownCause::kHostQmpQuit, false},
                                                   {ShutdownCause::kHostQmpSystemReset, false}};
  for (const auto& [cause, guest] : causes) {
    const auto j = shutdown_event_json(cause);
    EXPECT_EQ(member_names(j), (std::set<std::string>{"guest", "reason"}));
    EXPECT_EQ(j["guest"], guest);
    EXPECT_EQ(kShutdownCause.count(j["reason"].get<std::string>()), 1u) << j;
  }
  EXPECT_EQ(shutdown_event_json(ShutdownCause::kGuestShutdown)["reason"], "guest-shutdown");
}

// qapi/stats.json (QEMU 7.2): StatsFilter with StatsVCPUFilter, StatsRequest,
// StatsResult, Stats, StatsSchema, StatsSchemaValue; enums StatsTarget,
// StatsProvider, StatsType, StatsUnit.
const std::set<std::string> kStatsFilter = {"target", "providers", "vcpus"};
const std::set<std::string> kStatsRequest = {"provider", "names"};
const std::set<std::string> kStatsResult = {"provider", "qom-path", "stats"};
const std::set<std::string> kStats = {"name", "value"};
const std::set<std::string> kStatsSchema = {"provider", "target", "stats"};
const std::set<std::string> kStatsSchemaValue = {"name", "type", "unit", "base", "exponent", "bucket-size"};
const std::set<std::string> kStatsTarget = {"vm", "vcpu"};
const std::set<std::string> kStatsProvider = {"kvm"};
const std::set<std::string> kStatsType = {"cumulative", "instant", "peak", "linear-histogram", "log2-histogram"};
const std::set<std::string> kStatsUnit = {"bytes", "seconds", "cycles", "boolean"};

TEST(StatsShape, QueryStatsAndSchemasUseQemusNames) {
  test::KvmStatsBlob blob;
  blob.descs[0].flags = KVM_STATS_TYPE_LINEAR_HIST | KVM_STATS_UNIT_BYTES;
  blob.descs[0].bucket_size = 8;
  blob.descs[2].flags = KVM_STATS_TYPE_PEAK | KVM_STATS_UNIT_CYCLES | KVM_STATS_BASE_POW2;
  blob.descs[2].exponent = 3;
  KvmStatsFd vm(test::memfd_with(blob.bytes())), vcpu(test::memfd_with(blob.bytes()));
  const StatsSources sources{&vm, {&vcpu}};
  for (const char* target : {"vm", "vcpu"}) {
    const auto results = query_stats_json(
        {{"target", target}, {"providers", {{{"provider", "kvm"}, {"names", {"exits", "halt_wait_ns"}}}}}}, sources);
    ASSERT_EQ(results.size(), 1u);
    for (const auto& r : results) {
      const auto names = member_names(r);
      EXPECT_TRUE(std::includes(kStatsResult.begin(), kStatsResult.end(), names.begin(), names.end())) << r;
      EXPECT_EQ(kStatsProvider.count(r["provider"].get<std::string>()), 1u);
      for (const auto& s : r["stats"]) EXPECT_EQ(member_names(s), kStats);
    }
  }
  const auto schemas = query_stats_schemas_json(nlohmann::json::object(), sources);
  ASSERT_EQ(schemas.size(), 2u);
  std::set<std::string> seen_types, seen_units;
  for (const auto& schema : schemas) {
    EXPECT_EQ(member_names(schema), kStatsSchema);
    EXPECT_EQ(kStatsTarget.count(schema["target"].get<std::string>()), 1u);
    for (const auto& v : schema["stats"]) {
      const auto names = member_names(v);
      EXPECT_TRUE(std::includes(kStatsSchemaValue.begin(), kStatsSchemaValue.end(), names.begin(), names.end())) << v;
      seen_types.insert(v["type"].get<std::string>());
      if (v.contains("unit")) seen_units.insert(v["unit"].get<std::string>());
    }
  }
  EXPECT_TRUE(std::includes(kStatsType.begin(), kStatsType.end(), seen_types.begin(), seen_types.end()));
  EXPECT_TRUE(std::includes(kStatsUnit.begin(), kStatsUnit.end(), seen_units.begin(), seen_units.end()));
  EXPECT_EQ(seen_types.size(), 4u);  // linear-histogram, cumulative, peak, log2-histogram
}

}  // namespace
}  // namespace wren
