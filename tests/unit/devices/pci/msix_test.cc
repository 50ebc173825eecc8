#include "devices/pci/msix.h"

#include <gtest/gtest.h>

#include "devices/pci/registers.h"
#include "hypervisor/little_endian.h"
#include "unit/devices/pci/fakes.h"

namespace wren::pci {
namespace {

using testing::FakeMsiSink;

class MsixTest : public ::testing::Test {
 protected:
  MsixTest()
      : config(PciIdentity{.vendor_id = 1, .device_id = 2}),
        sink(std::make_shared<DirectMsiVectorSink>(msi)),
        table(4, sink) {
    cap = table.add_capability(config, 1, 0, 0x800);
  }

  void write32(uint64_t off, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    table.table_write(off, b);
  }
  uint32_t read32(uint64_t off) {
    uint8_t b[4];
    table.table_read(off, b);
    return static_cast<uint32_t>(load_le(b));
  }
  void program(uint16_t v, uint64_t addr, uint32_t data, bool masked) {
    write32(v * 16 + 0, static_cast<uint32_t>(addr));
    write32(v * 16 + 4, static_cast<uint32_t>(addr >> 32));
    write32(v * 16 + 8, data);
    write32(v * 16 + 12, masked ? 1 : 0);
  }
  void set_control(uint16_t control) {
    uint8_t b[2];
    store_le(b, control);
    config.write(cap + 2, b);
    table.config_written(config);
  }
  uint64_t pba() {
    uint8_t b[8];
    table.pba_read(0, b);
    return load_le(b);
  }

  PciConfigSpace config;
  FakeMsiSink msi;
  std::shared_ptr<DirectMsiVectorSink> sink;
  MsixTable table;
  uint8_t cap = 0;
};

TEST_F(MsixTest, CapabilityLayout) {
  EXPECT_EQ(config.read8(cap), kCapIdMsix);
  EXPECT_EQ(config.read16(cap + 2), 3);           // table size - 1, disabled
  EXPECT_EQ(config.read32(cap + 4), 0x0u | 1);    // table offset 0, BIR 1
  EXPECT_EQ(config.read32(cap + 8), 0x800u | 1);  // PBA
  // Only enable and function mask are writable.
  const uint8_t ones[2] = {0xff, 0xff};
  config.write(cap + 2, ones);
  EXPECT_EQ(config.read16(cap + 2), 0xc003);
  const uint8_t junk[4] = {0xff, 0xff, 0xff, 0xff};
  config.write(cap + 4, junk);
  EXPECT_EQ(config.read32(cap + 4), 1u);
  EXPECT_EQ(table.table_bytes(), 64u);
  EXPECT_EQ(table.pba_bytes(), 8u);
}

TEST_F(MsixTest, PowerOnVectorsAreMasked) {
  for (uint16_t v = 0; v < 4; ++v) {
    EXPECT_TRUE(table.vector_masked(v));
    EXPECT_EQ(read32(v * 16 + 12), 1u);
  }
}

TEST_F(MsixTest, TableReadWriteAnyWidthAndReservedBits) {
  program(2, 0xfee01000, 0x4041, true);
  EXPECT_EQ(read32(32), 0xfee01000u);
  EXPECT_EQ(read32(36), 0u);
  EXPECT_EQ(read32(40), 0x4041u);
  uint8_t q[8];
  table.table_read(32, q);
  EXPECT_EQ(load_le(q), 0xfee01000u);
  write32(44, 0xffffffff);  // only the mask bit sticks
  EXPECT_EQ(read32(44), 1u);
  // Past the end: reads 0, writes go nowhere, no crash.
  EXPECT_EQ(read32(64), 0u);
  write32(62, 0xffffffff);
  write32(UINT64_MAX - 1, 0xffffffff);
  EXPECT_EQ(read32(60), 1u);
  // The PBA is read-only and reads 0 past its end.
  EXPECT_EQ(pba(), 0u);
}

TEST_F(MsixTest, DisabledMeansNoDelivery) {
  program(0, 0xfee00000, 0x30, false);
  EXPECT_FALSE(table.notify(0));
  EXPECT_TRUE(msi.sent.empty());
  EXPECT_EQ(pba(), 0u);
}

TEST_F(MsixTest, UnmaskedVectorDelivers) {
  set_control(kMsixControlEnable);
  program(1, 0xfee00000, 0x31, false);
  EXPECT_TRUE(table.notify(1));
  ASSERT_EQ(msi.sent.size(), 1u);
  EXPECT_EQ(msi.sent[0], std::make_pair(uint64_t{0xfee00000}, uint32_t{0x31}));
  EXPECT_FALSE(table.notify(4));  // no such vector
}

TEST_F(MsixTest, MaskedVectorLatchesPendingAndDeliversOnUnmask) {
  set_control(kMsixControlEnable);
  program(3, 0xfee00000, 0x33, true);
  EXPECT_TRUE(table.notify(3));
  EXPECT_TRUE(msi.sent.empty());
  EXPECT_TRUE(table.pending(3));
  EXPECT_EQ(pba(), 0x8u);
  write32(3 * 16 + 12, 0);  // unmask
  ASSERT_EQ(msi.sent.size(), 1u);
  EXPECT_EQ(msi.sent[0].second, 0x33u);
  EXPECT_FALSE(table.pending(3));
  EXPECT_EQ(pba(), 0u);
}

TEST_F(MsixTest, FunctionMaskLatchesAllAndDeliversOnClear) {
  set_control(kMsixControlEnable | kMsixControlFunctionMask);
  program(0, 0xfee00000, 0x40, false);
  program(2, 0xfee00000, 0x42, false);
  EXPECT_TRUE(table.notify(0));
  EXPECT_TRUE(table.notify(2));
  EXPECT_TRUE(msi.sent.empty());
  EXPECT_EQ(pba(), 0x5u);
  set_control(kMsixControlEnable);
  EXPECT_EQ(msi.sent.size(), 2u);
  EXPECT_EQ(pba(), 0u);
}

TEST_F(MsixTest, PendingSurvivesWhileStillVectorMasked) {
  set_control(kMsixControlEnable | kMsixControlFunctionMask);
  program(1, 0xfee00000, 0x41, true);
  EXPECT_TRUE(table.notify(1));
  set_control(kMsixControlEnable);  // function unmasked, vector still masked
  EXPECT_TRUE(msi.sent.empty());
  EXPECT_TRUE(table.pending(1));
}

TEST_F(MsixTest, ResetMasksAndClears) {
  set_control(kMsixControlEnable);
  program(0, 0xfee00000, 0x40, true);
  EXPECT_TRUE(table.notify(0));
  table.reset();
  EXPECT_FALSE(table.enabled());
  EXPECT_TRUE(table.vector_masked(0));
  EXPECT_FALSE(table.pending(0));
  EXPECT_EQ(read32(0), 0u);
}

TEST_F(MsixTest, SaveRestoreRoundTripAndValidation) {
  set_control(kMsixControlEnable);
  program(1, 0xfee00000, 0x41, true);
  EXPECT_TRUE(table.notify(1));
  const auto state = table.save();
  table.reset();
  ASSERT_TRUE(table.restore(state));
  EXPECT_EQ(read32(16 + 8), 0x41u);
  EXPECT_TRUE(table.pending(1));
  auto bad = state;
  bad.table.resize(8);
  EXPECT_FALSE(table.restore(bad));
  auto junk = state;
  junk.pending[0] = ~uint64_t{0};  // bits beyond 4 vectors are dropped
  junk.table[12] = 0xff;
  ASSERT_TRUE(table.restore(junk));
  EXPECT_EQ(pba(), 0xfu);
  EXPECT_EQ(read32(12), 1u);
}

// A sink that records route changes, like the irqfd sink would program them.
class RecordingSink : public MsiVectorSink {
 public:
  void deliver(uint16_t v, uint64_t, uint32_t) override { delivered.push_back(v); }
  void route_changed(uint16_t v, uint64_t a, uint32_t d) override { routes.emplace_back(v, a, d); }
  std::vector<uint16_t> delivered;
  std::vector<std::tuple<uint16_t, uint64_t, uint32_t>> routes;
};

TEST(MsixRoutes, RouteChangesReportedWhenVectorBecomesDeliverableOrChanges) {
  PciConfigSpace config(PciIdentity{.vendor_id = 1});
  auto sink = std::make_shared<RecordingSink>();
  MsixTable table(2, sink);
  const uint8_t cap = table.add_capability(config, 1, 0, 0x800);
  auto w32 = [&](uint64_t off, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    table.table_write(off, b);
  };
  w32(0, 0xfee00000);
  w32(8, 0x50);
  w32(12, 0);  // unmasked, but MSI-X disabled: no route yet
  EXPECT_TRUE(sink->routes.empty());
  const uint8_t enable[2] = {0x00, 0x80};
  config.write(cap + 2, enable);
  table.config_written(config);
  ASSERT_EQ(sink->routes.size(), 1u);
  EXPECT_EQ(sink->routes[0], std::make_tuple(uint16_t{0}, uint64_t{0xfee00000}, uint32_t{0x50}));
  w32(8, 0x51);  // changed while deliverable
  ASSERT_EQ(sink->routes.size(), 2u);
  EXPECT_EQ(std::get<2>(sink->routes[1]), 0x51u);
}

}  // namespace
}  // namespace wren::pci
