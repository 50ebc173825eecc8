// query-counters' view of a NIC's counters (vmm/api/nic_report.h).
#include "vmm/api/nic_report.h"

#include <gtest/gtest.h>

namespace wren {
namespace {

TEST(NicReport, CountersShowEveryTransmitDrop) {
  NetCounters c;
  c.tx_dropped_header = 1;
  c.tx_dropped_too_big = 2;
  c.tx_dropped_spoofed = 3;  // mac-lock=on
  const auto j = counters_json(c);
  EXPECT_EQ(j.at("tx_dropped_header"), 1);
  EXPECT_EQ(j.at("tx_dropped_too_big"), 2);
  EXPECT_EQ(j.at("tx_dropped_spoofed"), 3);
}

}  // namespace
}  // namespace wren
