#include "devices/platform/acpi_pm.h"

#include <gtest/gtest.h>

#include <array>

#include "hypervisor/little_endian.h"
#include "unit/devices/platform/fake_irq_line.h"

namespace wren {
namespace {

using testing::FakeIrqLine;

constexpr uint64_t kSts = 0, kEn = 2, kCnt = 4, kTmr = 8;
constexpr uint64_t kNsPerSecond = 1'000'000'000;

class AcpiPmTest : public ::testing::Test {
 protected:
  uint64_t now_ns = 5 * kNsPerSecond;
  int poweroffs = 0;
  FakeIrqLine sci;
  AcpiPm pm{&sci, [this] { ++poweroffs; }, [this] { return now_ns; }};

  uint64_t in(uint64_t offset, size_t width) {
    std::array<uint8_t, 4> b{};
    pm.read(offset, std::span(b.data(), width));
    return load_le(std::span<const uint8_t>(b.data(), width));
  }
  void out(uint64_t offset, size_t width, uint64_t value) {
    std::array<uint8_t, 4> b{};
    store_le(b, value);
    pm.write(offset, std::span<const uint8_t>(b.data(), width));
  }
  static uint16_t slp(unsigned type, bool enable) {
    return static_cast<uint16_t>((type << 10) | (enable ? 1u << 13 : 0));
  }
};

TEST_F(AcpiPmTest, Geometry) {
  EXPECT_EQ(AcpiPm::kBase, layout::kPortAcpiPm1aEvt);
  EXPECT_EQ(AcpiPm::kLength, 12u);
}

TEST_F(AcpiPmTest, SciEnAlwaysReadsOne) {
  EXPECT_EQ(in(kCnt, 2), 0x0001u);
  out(kCnt, 2, 0x0000);
  EXPECT_EQ(in(kCnt, 2) & 1, 1u);
}

TEST_F(AcpiPmTest, PoweroffOnlyOnSleepType5WithSlpEn) {
  for (unsigned type = 0; type < 8; ++type) {
    if (type == AcpiPm::kSleepTypeSoftOff) continue;
    out(kCnt, 2, slp(type, true));
  }
  EXPECT_EQ(poweroffs, 0);
  out(kCnt, 2, slp(5, false));  // type without SLP_EN
  EXPECT_EQ(poweroffs, 0);
  EXPECT_EQ(in(kCnt, 2), (5u << 10) | 1u);  // SLP_TYP stored, SLP_EN reads 0
  out(kCnt, 2, slp(5, true) | 1);
  EXPECT_EQ(poweroffs, 1);
}

TEST_F(AcpiPmTest, PoweroffThroughHighByteWrite) {
  out(kCnt + 1, 1, slp(5, true) >> 8);
  EXPECT_EQ(poweroffs, 1);
}

TEST_F(AcpiPmTest, EnableRegisterMasksUnimplementedBits) {
  out(kEn, 2, 0xffff);
  EXPECT_EQ(in(kEn, 2), 0x0721u);
}

TEST_F(AcpiPmTest, PowerButtonRaisesSciAndStatusIsWriteOneToClear) {
  pm.press_power_button();
  EXPECT_EQ(in(kSts, 2), 0x0100u);
  EXPECT_TRUE(sci.levels().empty());  // not enabled yet
  out(kEn, 2, 0x0100);
  EXPECT_TRUE(sci.level());
  out(kSts, 2, 0x0000);  // writing 0 clears nothing
  EXPECT_EQ(in(kSts, 2), 0x0100u);
  out(kSts, 2, 0x0100);
  EXPECT_EQ(in(kSts, 2), 0x0000u);
  EXPECT_FALSE(sci.level());
  EXPECT_EQ(sci.levels(), (std::vector<bool>{true, false}));
}

TEST_F(AcpiPmTest, TimerCountsAt3579545Hz) {
  uint32_t t0 = static_cast<uint32_t>(in(kTmr, 4));
  EXPECT_EQ(t0, 0u);
  now_ns += kNsPerSecond;
  EXPECT_EQ(in(kTmr, 4), 3579545u);
  now_ns += 1000;  // 1 us = 3.58 ticks
  EXPECT_EQ(in(kTmr, 4), 3579548u);
  EXPECT_EQ(in(kTmr + 3, 1), 0u);  // bits 24-31 read 0
}

TEST_F(AcpiPmTest, TimerIsMonotonicAndWrapsAt24Bits) {
  uint32_t last = static_cast<uint32_t>(in(kTmr, 4));
  bool wrapped = false;
  // 2^24 ticks is ~4.687 s; step 0.1 s across 6 s.
  for (int i = 0; i < 60; ++i) {
    now_ns += kNsPerSecond / 10;
    uint32_t v = static_cast<uint32_t>(in(kTmr, 4));
    EXPECT_LE(v, AcpiPm::kTimerMask);
    if (v < last) {
      EXPECT_FALSE(wrapped);
      wrapped = true;
    }
    // Modulo 2^24 the difference is always one step's worth of ticks.
    EXPECT_NEAR((v - last) & AcpiPm::kTimerMask, 357954.5, 1.0);
    last = v;
  }
  EXPECT_TRUE(wrapped);
}

TEST_F(AcpiPmTest, TimerDoesNotOverflowAfterHours) {
  now_ns += uint64_t{10} * 3600 * kNsPerSecond;  // 10 h: elapsed*Hz exceeds 2^64
  uint64_t expected = (uint64_t{10} * 3600 * 3579545) & 0xffffff;
  EXPECT_EQ(in(kTmr, 4), expected);
}

TEST_F(AcpiPmTest, TimerIsReadOnlyAndGapReadsZero) {
  out(kTmr, 4, 0x123456);
  EXPECT_EQ(in(kTmr, 4), 0u);
  EXPECT_EQ(in(6, 2), 0u);
}

TEST_F(AcpiPmTest, SaveRestoreContinuesTimerAndRefusesInvalid) {
  out(kEn, 2, 0x0100);
  out(kCnt, 2, slp(3, false));
  now_ns += kNsPerSecond;
  pm.press_power_button();
  auto s = pm.save();
  EXPECT_EQ(s.timer, 3579545u);
  EXPECT_EQ(s.pm1_status, 0x0100);

  uint64_t other_ns = 1000 * kNsPerSecond;  // a different host clock
  FakeIrqLine sci2;
  AcpiPm other(
      &sci2, [] {}, [&] { return other_ns; });
  ASSERT_TRUE(other.restore(s));
  EXPECT_EQ(sci2.levels(), std::vector<bool>{true});
  auto s2 = other.save();
  EXPECT_EQ(s2.pm1_status, s.pm1_status);
  EXPECT_EQ(s2.pm1_enable, s.pm1_enable);
  EXPECT_EQ(s2.pm1_control, s.pm1_control);
  EXPECT_EQ(s2.timer, s.timer);
  other_ns += kNsPerSecond;
  EXPECT_EQ(other.timer_value(), (2 * 3579545u) & AcpiPm::kTimerMask);

  auto check = [&](auto mutate) {
    auto bad = s;
    mutate(bad);
    EXPECT_FALSE(other.restore(bad));
  };
  check([](auto& b) { b.pm1_status = 0x0001; });
  check([](auto& b) { b.pm1_enable = 0x8000; });
  check([](auto& b) { b.pm1_control = 0x2000; });  // SLP_EN is never stored
  check([](auto& b) { b.pm1_control = 0x0001; });  // SCI_EN is implied
  check([](auto& b) { b.timer = 1u << 24; });
  EXPECT_EQ(other.save().pm1_control, s.pm1_control);
}

}  // namespace
}  // namespace wren
