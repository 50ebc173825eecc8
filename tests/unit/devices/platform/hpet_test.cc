#include "devices/platform/hpet.h"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <vector>

#include "hypervisor/io_bus.h"
#include "hypervisor/little_endian.h"
#include "unit/devices/platform/fake_irq_line.h"

namespace wren {
namespace {

// Records the deadline of each timer; the test plays the event loop.
class FakeScheduler final : public Hpet::Scheduler {
 public:
  void arm(unsigned timer, uint64_t deadline_ns) override { deadlines.at(timer) = deadline_ns; }
  void cancel(unsigned timer) override { deadlines.at(timer).reset(); }
  std::array<std::optional<uint64_t>, Hpet::kTimers> deadlines;
};

constexpr uint64_t kBase = Hpet::kBase;
constexpr uint64_t kCap = 0x000, kConfig = 0x010, kIsr = 0x020, kCounter = 0x0f0;
constexpr uint64_t timer_config(unsigned n) { return 0x100 + 0x20 * n; }
constexpr uint64_t timer_comparator(unsigned n) { return 0x108 + 0x20 * n; }
constexpr uint64_t kTicksPerUs = 1000 / Hpet::kTickNs;

class HpetTest : public ::testing::Test {
 protected:
  HpetTest() {
    for (size_t i = 0; i < wired.size(); ++i) wired[i] = &lines[i];
    hpet = std::make_shared<Hpet>(
        wired, scheduler, [this](bool on) { legacy.push_back(on); }, [this] { return now; });
    EXPECT_TRUE(bus.insert(kBase, Hpet::kLength, hpet));
  }
  uint64_t read64(uint64_t reg) {
    std::array<uint8_t, 8> b{};
    EXPECT_TRUE(bus.read(kBase + reg, b));
    return load_le(b);
  }
  uint32_t read32(uint64_t reg) {
    std::array<uint8_t, 4> b{};
    EXPECT_TRUE(bus.read(kBase + reg, b));
    return static_cast<uint32_t>(load_le(b));
  }
  void write64(uint64_t reg, uint64_t v) {
    std::array<uint8_t, 8> b{};
    store_le(b, v);
    EXPECT_TRUE(bus.write(kBase + reg, b));
  }
  void write32(uint64_t reg, uint32_t v) {
    std::array<uint8_t, 4> b{};
    store_le(b, v);
    EXPECT_TRUE(bus.write(kBase + reg, b));
  }
  // Moves the clock and runs every deadline that passed, as the loop would.
  void advance_ns(uint64_t ns) {
    const uint64_t end = now + ns;
    for (;;) {
      std::optional<unsigned> next;
      for (unsigned n = 0; n < Hpet::kTimers; ++n)
        if (scheduler.deadlines[n] && *scheduler.deadlines[n] <= end &&
            (!next || *scheduler.deadlines[n] < *scheduler.deadlines[*next]))
          next = n;
      if (!next) break;
      now = std::max(now, *scheduler.deadlines[*next]);
      scheduler.deadlines[*next].reset();
      hpet->expire(*next);
    }
    now = end;
  }
  // Rising edges seen on an input.
  static int edges(const testing::FakeIrqLine& line) {
    int count = 0;
    bool last = false;
    for (bool l : line.levels()) {
      if (l && !last) ++count;
      last = l;
    }
    return count;
  }

  uint64_t now = 1'000'000'000;
  FakeScheduler scheduler;
  std::array<testing::FakeIrqLine, layout::kNumIoApicPins> lines;
  Hpet::IoApicLines wired{};
  std::vector<bool> legacy;
  std::shared_ptr<Hpet> hpet;
  IoBus bus;
};

TEST_F(HpetTest, CapabilitiesDescribeThreeTimers64BitLegacyCapableAt100MHz) {
  const uint64_t cap = read64(kCap);
  EXPECT_EQ(cap & 0xff, 1u);                 // revision
  EXPECT_EQ((cap >> 8) & 0x1f, 2u);          // NUM_TIM_CAP: timers - 1
  EXPECT_TRUE(cap & (1u << 13));             // COUNT_SIZE_CAP: 64-bit
  EXPECT_TRUE(cap & (1u << 15));             // LEG_RT_CAP
  EXPECT_EQ((cap >> 16) & 0xffff, 0x8086u);  // vendor
  EXPECT_EQ(cap >> 32, 10'000'000u);         // 10 ns in fs
  EXPECT_EQ(read32(kCap + 4), 10'000'000u);  // the high half alone
  for (unsigned n = 0; n < 3; ++n) {
    const uint64_t tc = read64(timer_config(n));
    EXPECT_TRUE(tc & Hpet::kPeriodicCapable);
    EXPECT_TRUE(tc & Hpet::kSize64Capable);
    EXPECT_FALSE(tc & (1u << 15));  // no FSB delivery
    EXPECT_EQ(tc >> 32, Hpet::kRouteCapability);
  }
  EXPECT_EQ(read64(0x400 - 8), 0u);  // reserved
}

TEST_F(HpetTest, CounterRunsOnlyWhileEnabled) {
  EXPECT_EQ(read64(kCounter), 0u);
  now += 5'000;
  EXPECT_EQ(read64(kCounter), 0u);  // halted at reset
  write64(kConfig, Hpet::kEnable);
  now += 1'000'000;  // 1 ms = 100000 ticks
  EXPECT_EQ(read64(kCounter), 100'000u);
  write64(kConfig, 0);
  now += 1'000'000;
  EXPECT_EQ(read64(kCounter), 100'000u);
  write64(kConfig, Hpet::kEnable);
  now += 10;
  EXPECT_EQ(read64(kCounter), 100'001u);
}

TEST_F(HpetTest, CounterIsWritableWhileHaltedAndReadsAsTwoHalves) {
  write64(kCounter, 0x00000001fffffff0);
  EXPECT_EQ(read64(kCounter), 0x00000001fffffff0u);
  write64(kConfig, Hpet::kEnable);
  write64(kCounter, 5);  // ignored while running
  now += 200;            // 20 ticks: the low half wraps into the high one
  EXPECT_EQ(read32(kCounter), 0x00000004u);
  EXPECT_EQ(read32(kCounter + 4), 0x2u);
}

TEST_F(HpetTest, ConfigKeepsOnlyItsTwoBits) {
  write64(kConfig, ~uint64_t{0});
  EXPECT_EQ(read64(kConfig), Hpet::kEnable | Hpet::kLegacyRoute);
  EXPECT_EQ(legacy, std::vector<bool>{true});
  write64(kConfig, 0);
  EXPECT_EQ(legacy, (std::vector<bool>{true, false}));
}

TEST_F(HpetTest, OneShotEdgeFiresOnceOnItsRoute) {
  write64(timer_config(2), Hpet::kInterruptEnable | (20u << Hpet::kRouteShift));
  write64(timer_comparator(2), 50 * kTicksPerUs);
  EXPECT_FALSE(scheduler.deadlines[2]);  // HPET halted: nothing armed
  write64(kConfig, Hpet::kEnable);
  ASSERT_TRUE(scheduler.deadlines[2]);
  EXPECT_EQ(*scheduler.deadlines[2], now + 50'000);
  advance_ns(49'990);
  EXPECT_EQ(edges(lines[20]), 0);
  advance_ns(10);
  EXPECT_EQ(edges(lines[20]), 1);
  EXPECT_FALSE(lines[20].level());  // edge: pulsed, not held
  EXPECT_EQ(read64(kIsr), 0u);
  advance_ns(10'000'000);
  EXPECT_EQ(edges(lines[20]), 1);  // one-shot
  EXPECT_EQ(read64(timer_comparator(2)), 50 * kTicksPerUs);
  // Rewriting the configuration (here: the route) does not fire it again...
  write64(timer_config(2), Hpet::kInterruptEnable | (21u << Hpet::kRouteShift));
  advance_ns(1'000);
  EXPECT_TRUE(lines[21].levels().empty());
  // ...switching its interrupt off and on does (the comparator is behind).
  write64(timer_config(2), 21u << Hpet::kRouteShift);
  write64(timer_config(2), Hpet::kInterruptEnable | (21u << Hpet::kRouteShift));
  advance_ns(0);
  EXPECT_EQ(edges(lines[21]), 1);
}

TEST_F(HpetTest, OneShotWithoutInterruptEnableDoesNothing) {
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(2), 20u << Hpet::kRouteShift);
  write64(timer_comparator(2), 10);
  advance_ns(1'000'000);
  EXPECT_TRUE(lines[20].levels().empty());
}

TEST_F(HpetTest, ComparatorAlreadyPassedFiresAtOnce) {
  write64(kConfig, Hpet::kEnable);
  now += 1'000'000;
  write64(timer_config(2), Hpet::kInterruptEnable | (21u << Hpet::kRouteShift));
  write64(timer_comparator(2), 10);  // far behind the counter
  ASSERT_TRUE(scheduler.deadlines[2]);
  EXPECT_EQ(*scheduler.deadlines[2], now);
  advance_ns(0);
  EXPECT_EQ(edges(lines[21]), 1);
}

TEST_F(HpetTest, LevelTriggeredHoldsTheLineUntilTheStatusBitIsCleared) {
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(2), Hpet::kInterruptEnable | Hpet::kLevelTriggered | (22u << Hpet::kRouteShift));
  write64(timer_comparator(2), 100);
  advance_ns(1'000);
  EXPECT_TRUE(lines[22].level());
  EXPECT_EQ(read64(kIsr), 0b100u);
  write64(kIsr, 0b011);  // other bits: no effect
  EXPECT_TRUE(lines[22].level());
  write64(kIsr, 0b100);
  EXPECT_FALSE(lines[22].level());
  EXPECT_EQ(read64(kIsr), 0u);
  EXPECT_EQ(lines[22].levels(), (std::vector<bool>{true, false}));
}

TEST_F(HpetTest, DisablingTheHpetDropsHeldLines) {
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(1), Hpet::kInterruptEnable | Hpet::kLevelTriggered | (23u << Hpet::kRouteShift));
  write64(timer_comparator(1), 1);
  advance_ns(100);
  ASSERT_TRUE(lines[23].level());
  write64(kConfig, 0);
  EXPECT_FALSE(lines[23].level());
  EXPECT_EQ(read64(kIsr), 0u);
}

TEST_F(HpetTest, PeriodicFiresEveryPeriodAndAdvancesTheComparator) {
  write64(kConfig, Hpet::kEnable);
  // Linux's sequence: VAL_SET, comparator = now + period, then the period.
  write64(timer_config(0), Hpet::kInterruptEnable | Hpet::kPeriodic | Hpet::kValueSet | (2u << Hpet::kRouteShift));
  const uint64_t period = 1000 * kTicksPerUs;  // 1 ms
  write64(timer_comparator(0), read64(kCounter) + period);
  write64(timer_comparator(0), period);
  EXPECT_FALSE(read64(timer_config(0)) & Hpet::kValueSet);  // cleared by the write
  EXPECT_EQ(read64(timer_comparator(0)), period);           // the second write set only the period
  advance_ns(10'500'000);                                   // 10.5 ms
  EXPECT_EQ(edges(lines[2]), 10);
  EXPECT_EQ(read64(timer_comparator(0)), 11 * period);
}

TEST_F(HpetTest, PeriodicWithoutValueSetSetsOnlyThePeriod) {
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(0), Hpet::kInterruptEnable | Hpet::kPeriodic | (2u << Hpet::kRouteShift));
  write64(timer_comparator(0), 20'000);  // period 200 us; the comparator stays 0: fires now
  advance_ns(0);
  EXPECT_EQ(edges(lines[2]), 1);
  EXPECT_EQ(read64(timer_comparator(0)), 20'000u);
  advance_ns(200'000);
  EXPECT_EQ(edges(lines[2]), 2);
  EXPECT_EQ(read64(timer_comparator(0)), 40'000u);
}

TEST_F(HpetTest, ShortPeriodsAreCoalescedNotStormed) {
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(0), Hpet::kInterruptEnable | Hpet::kPeriodic | Hpet::kValueSet | (2u << Hpet::kRouteShift));
  write64(timer_comparator(0), 1);
  write64(timer_comparator(0), 1);  // a period of one tick: 100 MHz
  advance_ns(1'000'000);            // 1 ms
  EXPECT_LE(edges(lines[2]), static_cast<int>(1'000'000 / Hpet::kMinIntervalNs) + 1);
  EXPECT_GE(edges(lines[2]), static_cast<int>(1'000'000 / Hpet::kMinIntervalNs) - 1);
}

TEST_F(HpetTest, ThirtyTwoBitModeTruncatesAndComparesLowHalves) {
  write64(kCounter, 0xfffffff0);
  write64(timer_config(1), Hpet::kInterruptEnable | Hpet::kMode32 | (20u << Hpet::kRouteShift));
  write64(timer_comparator(1), 0xabcd000000000010);  // only the low half is kept
  EXPECT_EQ(read64(timer_comparator(1)), 0x10u);
  write64(kConfig, Hpet::kEnable);
  // 0x10 is 0x20 ticks ahead of 0xfffffff0 in 32 bits, not 2^32 behind.
  ASSERT_TRUE(scheduler.deadlines[1]);
  EXPECT_EQ(*scheduler.deadlines[1], now + 0x20 * Hpet::kTickNs);
  advance_ns(0x20 * Hpet::kTickNs);
  EXPECT_EQ(edges(lines[20]), 1);
  EXPECT_EQ(read64(kCounter), 0x100000010u);  // the main counter itself stays 64-bit
}

TEST_F(HpetTest, ThirtyTwoBitPeriodicWrapsItsComparator) {
  write64(kCounter, 0xffff0000);
  write64(timer_config(1),
          Hpet::kInterruptEnable | Hpet::kPeriodic | Hpet::kValueSet | Hpet::kMode32 | (20u << Hpet::kRouteShift));
  write64(timer_comparator(1), 0xffff8000);
  write64(timer_comparator(1), 0x8000);  // period: 32768 ticks, 328 us
  write64(kConfig, Hpet::kEnable);
  advance_ns(0x1c000 * Hpet::kTickNs);  // counter 0x1_0000_c000: fired at ffff8000, 0, 8000
  EXPECT_EQ(edges(lines[20]), 3);
  EXPECT_EQ(read64(timer_comparator(1)), 0x10000u);
}

TEST_F(HpetTest, LegacyRouteSendsTimer0ToInput2AndTimer1ToInput8) {
  write64(timer_config(0), Hpet::kInterruptEnable | (21u << Hpet::kRouteShift));
  write64(timer_config(1), Hpet::kInterruptEnable | (22u << Hpet::kRouteShift));
  write64(timer_comparator(0), 10);
  write64(timer_comparator(1), 20);
  write64(kConfig, Hpet::kEnable | Hpet::kLegacyRoute);
  EXPECT_EQ(legacy, std::vector<bool>{true});
  advance_ns(1'000);
  EXPECT_EQ(edges(lines[2]), 1);
  EXPECT_EQ(edges(lines[8]), 1);
  EXPECT_TRUE(lines[21].levels().empty());
  EXPECT_TRUE(lines[22].levels().empty());
}

TEST_F(HpetTest, RouteOutsideTheCapabilityRaisesNothing) {
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(2), Hpet::kInterruptEnable | (4u << Hpet::kRouteShift));  // COM1's input
  write64(timer_comparator(2), 10);
  advance_ns(1'000);
  EXPECT_TRUE(lines[4].levels().empty());
  EXPECT_EQ((read64(timer_config(2)) & Hpet::kRouteMask) >> Hpet::kRouteShift, 4u);  // still reads back
}

TEST_F(HpetTest, PauseFreezesTheCounterAndTheTimers) {
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(2), Hpet::kInterruptEnable | (20u << Hpet::kRouteShift));
  write64(timer_comparator(2), 1000 * kTicksPerUs);  // 1 ms
  advance_ns(400'000);
  hpet->pause();
  EXPECT_FALSE(scheduler.deadlines[2]);
  const uint64_t frozen = read64(kCounter);
  EXPECT_EQ(frozen, 400 * kTicksPerUs);
  advance_ns(60'000'000'000);  // a minute paused
  EXPECT_EQ(read64(kCounter), frozen);
  EXPECT_TRUE(lines[20].levels().empty());
  hpet->resume();
  advance_ns(599'000);
  EXPECT_EQ(edges(lines[20]), 0);
  advance_ns(1'000);
  EXPECT_EQ(edges(lines[20]), 1);
  EXPECT_EQ(read64(kCounter), 1000 * kTicksPerUs);
}

TEST_F(HpetTest, SaveRestoreContinuesFromTheSavedCounter) {
  write64(kConfig, Hpet::kEnable | Hpet::kLegacyRoute);
  write64(timer_config(0), Hpet::kInterruptEnable | Hpet::kPeriodic | Hpet::kValueSet);
  write64(timer_comparator(0), 1000 * kTicksPerUs);
  write64(timer_comparator(0), 1000 * kTicksPerUs);
  write64(timer_config(1), Hpet::kInterruptEnable | Hpet::kLevelTriggered);
  write64(timer_comparator(1), 10);
  advance_ns(2'500'000);
  const auto saved = hpet->save();
  EXPECT_EQ(saved.counter, 2500 * kTicksPerUs);
  EXPECT_EQ(saved.isr, 0b10u);
  EXPECT_TRUE(Hpet::valid(saved));

  FakeScheduler other_scheduler;
  std::array<testing::FakeIrqLine, layout::kNumIoApicPins> other_lines;
  Hpet::IoApicLines other_wired{};
  for (size_t i = 0; i < other_wired.size(); ++i) other_wired[i] = &other_lines[i];
  uint64_t other_now = 7;  // another host: its clock is elsewhere
  std::vector<bool> other_legacy;
  Hpet fresh(
      other_wired, other_scheduler, [&](bool on) { other_legacy.push_back(on); }, [&] { return other_now; });
  ASSERT_TRUE(fresh.restore(saved));
  EXPECT_EQ(other_legacy, std::vector<bool>{true});  // the PIT is silenced there too
  EXPECT_EQ(fresh.counter(), saved.counter);
  other_now += 1'000;
  EXPECT_EQ(fresh.counter(), saved.counter + 100);
  EXPECT_TRUE(other_lines[8].level());  // the held level line is raised again
  ASSERT_TRUE(other_scheduler.deadlines[0]);
  EXPECT_EQ(*other_scheduler.deadlines[0], 7 + 500'000u);  // the next period, 0.5 ms on
  EXPECT_FALSE(other_scheduler.deadlines[1]);              // the one-shot already fired
}

TEST_F(HpetTest, RestoreRefusesStateOutsideTheImplementedBits) {
  EXPECT_TRUE(Hpet::valid(Hpet::State{}));
  Hpet::State s;
  s.config = 1u << 2;
  EXPECT_FALSE(hpet->restore(s));
  s = {};
  s.isr = 1u << 3;
  EXPECT_FALSE(Hpet::valid(s));
  s = {};
  s.timers[0].config = 1u << 14;  // FSB enable: not offered
  EXPECT_FALSE(Hpet::valid(s));
  s = {};
  s.timers[1].config = Hpet::kMode32;
  s.timers[1].comparator = uint64_t{1} << 32;
  EXPECT_FALSE(Hpet::valid(s));
  s = {};
  s.isr = 1;  // timer 0 holds a line but is edge-triggered
  EXPECT_FALSE(Hpet::valid(s));
  s.config = Hpet::kEnable;
  s.timers[0].config = Hpet::kInterruptEnable | Hpet::kLevelTriggered;
  EXPECT_TRUE(Hpet::valid(s));
}

TEST_F(HpetTest, SpuriousAndEarlyExpiriesAreHarmless) {
  hpet->expire(0);
  hpet->expire(7);  // no such timer
  write64(kConfig, Hpet::kEnable);
  write64(timer_config(2), Hpet::kInterruptEnable | (20u << Hpet::kRouteShift));
  write64(timer_comparator(2), 1000);
  hpet->expire(2);  // 10 us early
  EXPECT_TRUE(lines[20].levels().empty());
  ASSERT_TRUE(scheduler.deadlines[2]);  // re-armed
  EXPECT_EQ(*scheduler.deadlines[2], now + 10'000);
}

}  // namespace
}  // namespace wren
