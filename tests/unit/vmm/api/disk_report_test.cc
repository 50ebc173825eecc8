// query-disks' JSON: every counter the control socket promises, by name.
#include "vmm/api/disk_report.h"

#include <gtest/gtest.h>

namespace wren {
namespace {

TEST(DiskReport, CarriesImageModeAndCounters) {
  BlkReport r;
  r.name = "disk1";
  r.path = "/images/a.img";
  r.read_only = true;
  r.direct = true;
  r.active = true;
  r.writeback = false;
  r.capacity_bytes = 1 << 20;
  r.queues = 2;
  r.counters.reads = 3;
  r.counters.writes = 4;
  r.counters.flushes = 5;
  r.counters.discards = 6;
  r.counters.write_zeroes = 7;
  r.counters.get_ids = 8;
  r.counters.bytes_read = 4096;
  r.counters.bytes_written = 8192;
  r.counters.io_errors = 2;
  r.counters.host_errors = 1;
  r.counters.unsupported = 1;
  r.counters.malformed = 1;
  r.counters.in_flight = 9;
  const auto j = disk_json(r);
  EXPECT_EQ(j["name"], "disk1");
  EXPECT_EQ(j["path"], "/images/a.img");
  EXPECT_EQ(j["read_only"], true);
  EXPECT_EQ(j["cache"], "none");
  EXPECT_EQ(j["writeback"], false);
  EXPECT_EQ(j["capacity"], 1 << 20);
  EXPECT_EQ(j["queues"], 2);
  const auto& c = j["counters"];
  EXPECT_EQ(c["requests"], 3 + 4 + 5 + 6 + 7 + 8);
  EXPECT_EQ(c["bytes_read"], 4096);
  EXPECT_EQ(c["bytes_written"], 8192);
  EXPECT_EQ(c["flushes"], 5);
  EXPECT_EQ(c["errors"], 4);  // io_errors + unsupported + malformed
  EXPECT_EQ(c["host_errors"], 1);
  EXPECT_EQ(c["in_flight"], 9);
}

}  // namespace
}  // namespace wren
