// query-stats and query-stats-schemas over synthetic KVM stats files: the
// filters (target, vcpus, providers and names), the value kinds, and
// QEMU's refusals. The member names are checked in qemu_shapes_test.cc.
#include "vmm/api/stats_report.h"

#include <gtest/gtest.h>

#include "unit/hypervisor/kvm_stats_blob.h"
#include "vmm/api/api_server.h"

namespace wren {
namespace {

using json = nlohmann::json;

struct Files {
  KvmStatsFd vm{test::memfd_with(test::KvmStatsBlob().bytes())};
  KvmStatsFd vcpu0{test::memfd_with(test::KvmStatsBlob().bytes())};
  KvmStatsFd vcpu1{test::memfd_with(test::KvmStatsBlob().bytes())};
  StatsSources sources() const { return {&vm, {&vcpu0, &vcpu1}}; }
};

json names_of(const json& stats) {
  json out = json::array();
  for (const auto& s : stats) out.push_back(s["name"]);
  return out;
}

TEST(QueryStats, VcpuTargetGivesEveryVcpuWithItsQomPath) {
  Files f;
  const json r = query_stats_json({{"target", "vcpu"}}, f.sources());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["provider"], "kvm");
  EXPECT_EQ(r[0]["qom-path"], "/machine/unattached/device[0]");
  EXPECT_EQ(r[1]["qom-path"], "/machine/unattached/device[1]");
  EXPECT_EQ(names_of(r[0]["stats"]), json({"exits", "halt_wait_ns", "guest_mode", "halt_wait_hist"}));
  EXPECT_EQ(r[0]["stats"][0]["value"], 1234);
  EXPECT_EQ(r[0]["stats"][2]["value"], true);  // unit boolean
  EXPECT_EQ(r[0]["stats"][3]["value"], json({7, 8, 9}));
}

TEST(QueryStats, VmTargetHasNoQomPath) {
  Files f;
  const json r = query_stats_json({{"target", "vm"}}, f.sources());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].contains("qom-path"));
  EXPECT_EQ(r[0]["stats"].size(), 4u);
}

TEST(QueryStats, FiltersByVcpuAndName) {
  Files f;
  const json only1 = query_stats_json({{"target", "vcpu"}, {"vcpus", {"/machine/unattached/device[1]"}}}, f.sources());
  ASSERT_EQ(only1.size(), 1u);
  EXPECT_EQ(only1[0]["qom-path"], "/machine/unattached/device[1]");
  EXPECT_EQ(query_stats_json({{"target", "vcpu"}, {"vcpus", json::array()}}, f.sources()), json::array());

  const json exits = query_stats_json(
      {{"target", "vcpu"}, {"providers", {{{"provider", "kvm"}, {"names", {"exits", "nonexistent"}}}}}}, f.sources());
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0]["stats"], json({{{"name", "exits"}, {"value", 1234}}}));
  // A source with no stats left is left out, as in QEMU.
  EXPECT_EQ(query_stats_json({{"target", "vm"}, {"providers", {{{"provider", "kvm"}, {"names", {"nonexistent"}}}}}},
                             f.sources()),
            json::array());
}

TEST(QueryStats, SkipsStatsOfUnknownKinds) {
  test::KvmStatsBlob blob;
  blob.descs[1].flags = 0xf;  // a type newer than this parser
  KvmStatsFd fd(test::memfd_with(blob.bytes()));
  const json r = query_stats_json({{"target", "vm"}}, StatsSources{&fd, {}});
  EXPECT_EQ(names_of(r[0]["stats"]), json({"exits", "guest_mode", "halt_wait_hist"}));
}

TEST(QueryStats, WithoutKvmStatsAnswersEmpty) {
  const StatsSources none{nullptr, {nullptr}};
  EXPECT_EQ(query_stats_json({{"target", "vcpu"}}, none), json::array());
  EXPECT_EQ(query_stats_json({{"target", "vm"}}, none), json::array());
  EXPECT_EQ(query_stats_schemas_json(json::object(), none), json::array());
}

void expect_refused(const json& args, const std::string& desc) {
  Files f;
  try {
    query_stats_json(args, f.sources());
    ADD_FAILURE() << "accepted " << args;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.error_class(), "GenericError");
    EXPECT_EQ(std::string(e.what()), desc) << args;
  }
}

// The descriptions are QEMU 7.2's, word for word.
TEST(QueryStats, RefusesWhatQemuRefuses) {
  expect_refused(json::object(), "Parameter 'target' is missing");
  expect_refused({{"target", 1}}, "Invalid parameter type for 'target', expected: string");
  expect_refused({{"target", "bogus"}}, "Parameter 'target' does not accept value 'bogus'");
  expect_refused({{"target", "vm"}, {"vcpus", json::array()}}, "Parameter 'vcpus' is unexpected");
  expect_refused({{"target", "vcpu"}, {"vcpus", "x"}}, "Invalid parameter type for 'vcpus', expected: array");
  expect_refused({{"target", "vcpu"}, {"providers", {{{"provider", "foo"}}}}},
                 "Parameter 'provider' does not accept value 'foo'");
  expect_refused({{"target", "vcpu"}, {"providers", {json::object()}}}, "Parameter 'providers[0].provider' is missing");
  expect_refused({{"target", "vcpu"}, {"providers", {{{"provider", "kvm"}, {"names", {1}}}}}},
                 "Invalid parameter type for 'providers[0].names[0]', expected: string");
  expect_refused({{"target", "vm"}, {"bogus", 1}}, "Parameter 'bogus' is unexpected");
}

TEST(QueryStatsSchemas, DescribesVmAndVcpuStats) {
  Files f;
  const json r = query_stats_schemas_json(json::object(), f.sources());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["target"], "vm");
  EXPECT_EQ(r[1]["target"], "vcpu");
  const json& stats = r[1]["stats"];
  EXPECT_EQ(stats[0], json({{"name", "exits"}, {"type", "cumulative"}, {"exponent", 0}}));
  EXPECT_EQ(
      stats[1],
      json({{"name", "halt_wait_ns"}, {"type", "cumulative"}, {"unit", "seconds"}, {"base", 10}, {"exponent", -9}}));
  EXPECT_EQ(stats[3]["type"], "log2-histogram");
  EXPECT_THROW(query_stats_schemas_json({{"provider", "x"}}, f.sources()), ApiError);
  EXPECT_EQ(query_stats_schemas_json({{"provider", "kvm"}}, f.sources()).size(), 2u);
}

}  // namespace
}  // namespace wren
