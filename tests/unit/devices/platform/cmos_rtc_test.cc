#include "devices/platform/cmos_rtc.h"

#include <gtest/gtest.h>

#include <array>

#include "hypervisor/layout.h"

namespace wren {
namespace {

using layout::kGiB;
using layout::kMiB;

constexpr std::time_t kThursday = 1709214307;  // 2024-02-29 13:45:07 UTC, a Thursday

class CmosTest : public ::testing::Test {
 protected:
  std::time_t now = kThursday;
  CmosRtc cmos{256 * kMiB, 0, [this] { return now; }};

  static uint8_t get(CmosRtc& dev, uint8_t index) {
    std::array<uint8_t, 1> b{index};
    dev.write(0, b);
    dev.read(1, b);
    return b[0];
  }
  static void put(CmosRtc& dev, uint8_t index, uint8_t value) {
    std::array<uint8_t, 1> b{index};
    dev.write(0, b);
    b[0] = value;
    dev.write(1, b);
  }
  uint8_t get(uint8_t index) { return get(cmos, index); }
  void put(uint8_t index, uint8_t value) { put(cmos, index, value); }
};

TEST_F(CmosTest, StatusRegisterDefaults) {
  EXPECT_EQ(get(0x0a), 0x26);
  EXPECT_EQ(get(0x0b), 0x02);
  EXPECT_EQ(get(0x0c), 0x00);
  EXPECT_EQ(get(0x0d), 0x80);
}

TEST_F(CmosTest, TimeInBcd24Hour) {
  EXPECT_EQ(get(0x00), 0x07);
  EXPECT_EQ(get(0x02), 0x45);
  EXPECT_EQ(get(0x04), 0x13);
  EXPECT_EQ(get(0x06), 0x05);  // Thursday, Sunday = 1
  EXPECT_EQ(get(0x07), 0x29);
  EXPECT_EQ(get(0x08), 0x02);
  EXPECT_EQ(get(0x09), 0x24);
  EXPECT_EQ(get(0x32), 0x20);
}

TEST_F(CmosTest, TimeInBinary) {
  put(0x0b, 0x06);  // binary, 24h
  EXPECT_EQ(get(0x00), 7);
  EXPECT_EQ(get(0x02), 45);
  EXPECT_EQ(get(0x04), 13);
  EXPECT_EQ(get(0x07), 29);
  EXPECT_EQ(get(0x09), 24);
  EXPECT_EQ(get(0x32), 20);
}

TEST_F(CmosTest, TwelveHourModeSetsPmBit) {
  put(0x0b, 0x00);                    // BCD, 12h
  EXPECT_EQ(get(0x04), 0x80 | 0x01);  // 1 PM
  put(0x0b, 0x04);                    // binary, 12h
  EXPECT_EQ(get(0x04), 0x80 | 1);
  now = kThursday - 13 * 3600;  // 00:45 -> 12 AM
  EXPECT_EQ(get(0x04), 12);
}

TEST_F(CmosTest, ClockFollowsTheHostClock) {
  now += 60;
  EXPECT_EQ(get(0x02), 0x46);
}

TEST_F(CmosTest, IndexBit7IsNmiMaskAndIgnored) {
  EXPECT_EQ(get(0x80 | 0x0d), 0x80);
  EXPECT_TRUE(cmos.save().nmi_masked);
  EXPECT_EQ(cmos.save().index, 0x0d);
}

TEST_F(CmosTest, UipNeverSetAndReadOnlyRegisters) {
  put(0x0a, 0xff);
  EXPECT_EQ(get(0x0a), 0x7f);
  put(0x0c, 0xff);
  put(0x0d, 0x00);
  EXPECT_EQ(get(0x0c), 0x00);
  EXPECT_EQ(get(0x0d), 0x80);
}

TEST_F(CmosTest, PlainCmosBytesAreStorage) {
  put(0x40, 0x12);
  put(0x7f, 0x34);
  EXPECT_EQ(get(0x40), 0x12);
  EXPECT_EQ(get(0x7f), 0x34);
  std::array<uint8_t, 1> b{};
  cmos.read(0, b);
  EXPECT_EQ(b[0], 0xff);  // index port is write-only
}

TEST_F(CmosTest, SettingTimeUnderSetBitStoresAnOffset) {
  // 2025-01-31 00:00:00 -> 2025-02-28: month is written before the day, so
  // the intermediate Feb 31 must not be normalized.
  put(0x0b, 0x82);
  put(0x09, 0x25);
  put(0x08, 0x01);
  put(0x07, 0x31);
  put(0x04, 0x00);
  put(0x02, 0x00);
  put(0x00, 0x00);
  EXPECT_EQ(get(0x07), 0x31);  // frozen while SET
  now += 100;
  EXPECT_EQ(get(0x00), 0x00);
  put(0x08, 0x02);
  put(0x07, 0x28);
  put(0x0b, 0x02);
  EXPECT_EQ(cmos.save().clock_offset_seconds, 1740700800 - now);
  EXPECT_EQ(get(0x09), 0x25);
  EXPECT_EQ(get(0x08), 0x02);
  EXPECT_EQ(get(0x07), 0x28);
  now += 5;
  EXPECT_EQ(get(0x00), 0x05);
}

TEST_F(CmosTest, SingleFieldWriteWithoutSetApplies) {
  put(0x09, 0x28);  // year 2028 (a leap year: Feb 29 stays valid)
  EXPECT_EQ(get(0x09), 0x28);
  EXPECT_EQ(get(0x08), 0x02);
  EXPECT_EQ(get(0x02), 0x45);
}

TEST_F(CmosTest, InvalidTimeIsIgnored) {
  put(0x09, 0x30);  // 2030-02-29 does not exist: the write is dropped
  EXPECT_EQ(get(0x09), 0x24);
  put(0x0b, 0x82);
  put(0x08, 0x13);  // month 13
  put(0x0b, 0x02);
  EXPECT_EQ(cmos.save().clock_offset_seconds, 0);
  put(0x0b, 0x82);
  put(0x07, 0x30);  // Feb 30
  put(0x0b, 0x02);
  EXPECT_EQ(cmos.save().clock_offset_seconds, 0);
  put(0x00, 0x5a);  // not BCD
  EXPECT_EQ(cmos.save().clock_offset_seconds, 0);
  EXPECT_EQ(get(0x00), 0x07);
}

uint16_t le16(CmosRtc& dev, uint8_t index, uint8_t (*get)(CmosRtc&, uint8_t)) {
  return static_cast<uint16_t>(get(dev, index) | (get(dev, index + 1) << 8));
}

struct MemCase {
  uint64_t low;
  uint64_t high;
  uint16_t ext_kib;
  uint16_t above_16m;
  uint32_t above_4g;
};

class CmosMemoryTest : public CmosTest, public ::testing::WithParamInterface<MemCase> {};

TEST_P(CmosMemoryTest, MemorySizeRegisters) {
  const MemCase c = GetParam();
  CmosRtc dev(c.low, c.high, [] { return kThursday; });
  EXPECT_EQ(le16(dev, 0x15, &CmosTest::get), 640);
  EXPECT_EQ(le16(dev, 0x17, &CmosTest::get), c.ext_kib);
  EXPECT_EQ(le16(dev, 0x30, &CmosTest::get), c.ext_kib);
  EXPECT_EQ(le16(dev, 0x34, &CmosTest::get), c.above_16m);
  uint32_t above_4g = get(dev, 0x5b) | (get(dev, 0x5c) << 8) | (get(dev, 0x5d) << 16);
  EXPECT_EQ(above_4g, c.above_4g);
}

INSTANTIATE_TEST_SUITE_P(Sizes, CmosMemoryTest,
                         ::testing::Values(MemCase{256 * kMiB, 0, 0xffff, 0x0f00, 0},              // 256 MiB
                                           MemCase{3 * kGiB, 0, 0xffff, 0xbf00, 0},                // 3 GiB
                                           MemCase{3 * kGiB, 5 * kGiB, 0xffff, 0xbf00, 0x014000},  // 8 GiB
                                           MemCase{8 * kMiB, 0, 7 * 1024, 0, 0}));                 // tiny

TEST_F(CmosTest, ChecksumCoversBytes10To2d) {
  uint16_t sum = 0;
  for (int i = 0x10; i <= 0x2d; ++i) sum = static_cast<uint16_t>(sum + get(static_cast<uint8_t>(i)));
  EXPECT_EQ(get(0x2e), sum >> 8);
  EXPECT_EQ(get(0x2f), sum & 0xff);
  cmos.set_byte(0x14, 0x06);
  EXPECT_EQ(get(0x14), 0x06);
  EXPECT_EQ(get(0x2f), (sum + 6) & 0xff);
  cmos.set_byte(0x00, 0x99);  // time registers are not presettable
  EXPECT_EQ(get(0x00), 0x07);
}

TEST_F(CmosTest, SaveRestoreRoundTripKeepsOffset) {
  put(0x09, 0x28);
  put(0x50, 0xab);
  put(0x0b, 0x06);
  auto s = cmos.save();
  CmosRtc other(1 * kGiB, 0, [this] { return now; });
  ASSERT_TRUE(other.restore(s));
  auto s2 = other.save();
  EXPECT_EQ(s2.bytes, s.bytes);
  EXPECT_EQ(s2.index, s.index);
  EXPECT_EQ(s2.clock_offset_seconds, s.clock_offset_seconds);
  EXPECT_EQ(get(other, 0x09), 28);
  EXPECT_EQ(get(other, 0x50), 0xab);
}

TEST_F(CmosTest, RestoreRefusesInvalidState) {
  auto good = cmos.save();
  auto check = [&](auto mutate) {
    auto s = good;
    mutate(s);
    EXPECT_FALSE(cmos.restore(s));
  };
  check([](auto& s) { s.index = 128; });
  check([](auto& s) { s.bytes[0x0a] |= 0x80; });
  check([](auto& s) { s.bytes[0x0c] = 0x10; });
  check([](auto& s) { s.bytes[0x0d] = 0x00; });
  check([](auto& s) { s.clock_offset_seconds = CmosRtc::kMaxOffsetSeconds + 1; });
  check([](auto& s) { s.clock_offset_seconds = -CmosRtc::kMaxOffsetSeconds - 1; });
  EXPECT_TRUE(cmos.restore(good));
}

}  // namespace
}  // namespace wren
