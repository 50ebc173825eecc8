// `wren run --incoming` and `wren migrate`: parsing and the messages users see.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parse_args.h"
#include "vmm/cli/cli.h"

namespace wren {
namespace {

std::string error_of(const Command& c) {
  auto* e = std::get_if<CliExit>(&c);
  return e ? e->message : "";
}

TEST(MigrateCli, IncomingMakesKernelOptional) {
  auto r = parse_args({"run", "--incoming", "tcp:10.0.0.2:4444", "--memory", "256M"});
  auto* cfg = std::get_if<RunConfig>(&r);
  ASSERT_NE(cfg, nullptr) << error_of(r);
  EXPECT_EQ(cfg->incoming, "tcp:10.0.0.2:4444");
  EXPECT_TRUE(cfg->kernel.empty());
}

TEST(MigrateCli, IncomingMustBeTcp) {
  EXPECT_NE(error_of(parse_args({"run", "--incoming", "unix:/x"})).find("tcp:ADDR:PORT"), std::string::npos);
}

TEST(MigrateCli, IncomingAndRestoreExcludeEachOther) {
  EXPECT_NE(error_of(parse_args({"run", "--incoming", "tcp:1.2.3.4:5", "--restore", "/dev/null"})).find("exclude"),
            std::string::npos);
}

TEST(MigrateCli, MigrateCommandWithDefaults) {
  auto r = parse_args({"migrate", "--api", "unix:/run/w.sock", "tcp:10.0.0.2:4444"});
  auto* m = std::get_if<MigrateCommand>(&r);
  ASSERT_NE(m, nullptr) << error_of(r);
  EXPECT_EQ(m->api_path, "/run/w.sock");
  EXPECT_EQ(m->uri, "tcp:10.0.0.2:4444");
  EXPECT_EQ(m->downtime_ms, 300u);
  EXPECT_EQ(m->max_bandwidth_mbps, 0u);
}

TEST(MigrateCli, MigrateOptions) {
  auto r = parse_args(
      {"migrate", "--api", "unix:/s", "--downtime-ms", "50", "--timeout", "30", "--max-bandwidth", "100", "tcp:h:1"});
  auto* m = std::get_if<MigrateCommand>(&r);
  ASSERT_NE(m, nullptr) << error_of(r);
  EXPECT_EQ(m->downtime_ms, 50u);
  EXPECT_EQ(m->timeout_s, 30u);
  EXPECT_EQ(m->max_bandwidth_mbps, 100u);
}

TEST(MigrateCli, MigrateRefusesBadInput) {
  EXPECT_NE(error_of(parse_args({"migrate", "tcp:h:1"})).find("--api"), std::string::npos);
  EXPECT_NE(error_of(parse_args({"migrate", "--api", "/s", "tcp:h:1"})).find("unix:PATH"), std::string::npos);
  EXPECT_NE(error_of(parse_args({"migrate", "--api", "unix:/s", "udp:h:1"})).find("tcp:HOST:PORT"), std::string::npos);
  EXPECT_FALSE(error_of(parse_args({"migrate", "--api", "unix:/s", "--downtime-ms", "0", "tcp:h:1"})).empty());
}

}  // namespace
}  // namespace wren
