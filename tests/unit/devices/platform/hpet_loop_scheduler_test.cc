#include "devices/platform/hpet_loop_scheduler.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <thread>

#include "devices/platform/hpet.h"
#include "hypervisor/event_loop.h"
#include "hypervisor/little_endian.h"
#include "unit/devices/platform/fake_irq_line.h"

namespace wren {
namespace {

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

int rising_edges(const testing::FakeIrqLine& line) {
  int count = 0;
  bool last = false;
  for (bool l : line.levels()) {
    if (l && !last) ++count;
    last = l;
  }
  return count;
}

// The real thing: steady_clock, Boost.Asio timers on an event loop thread.
class HpetOnTheLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scheduler.set_expired([this](unsigned timer) { hpet.expire(timer); });
    loop.start();
  }
  void TearDown() override { loop.stop(); }
  void write64(uint64_t reg, uint64_t v) {
    std::array<uint8_t, 8> b{};
    store_le(b, v);
    hpet.write(reg, b);
  }

  EventLoop loop;
  testing::FakeIrqLine line;
  Hpet::IoApicLines wired = [this] {
    Hpet::IoApicLines lines{};
    lines[20] = &line;
    return lines;
  }();
  HpetLoopScheduler scheduler{loop.context()};
  Hpet hpet{wired, scheduler};
};

TEST_F(HpetOnTheLoopTest, OneShotFiresFromTheLoopAfterItsDeadline) {
  write64(0x010, Hpet::kEnable);
  const auto start = std::chrono::steady_clock::now();
  write64(0x148, hpet.counter() + 20'000'000 / Hpet::kTickNs);  // 20 ms
  write64(0x140, Hpet::kInterruptEnable | (20u << Hpet::kRouteShift));
  ASSERT_TRUE(wait_for([&] { return rising_edges(line) == 1; }, std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rising_edges(line), 1);
}

TEST_F(HpetOnTheLoopTest, PeriodicKeepsFiringUntilDisabled) {
  write64(0x010, Hpet::kEnable);
  write64(0x140, Hpet::kInterruptEnable | Hpet::kPeriodic | Hpet::kValueSet | (20u << Hpet::kRouteShift));
  write64(0x148, hpet.counter() + 200'000);  // 2 ms
  write64(0x148, 200'000);
  ASSERT_TRUE(wait_for([&] { return rising_edges(line) >= 5; }, std::chrono::seconds(5)));
  write64(0x010, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a loop turn for the cancel
  const int after = rising_edges(line);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rising_edges(line), after);
}

TEST_F(HpetOnTheLoopTest, CancelledTimerStaysQuiet) {
  write64(0x010, Hpet::kEnable);
  write64(0x148, hpet.counter() + 1'000'000);  // 10 ms
  write64(0x140, Hpet::kInterruptEnable | (20u << Hpet::kRouteShift));
  hpet.pause();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(rising_edges(line), 0);
  hpet.resume();
  ASSERT_TRUE(wait_for([&] { return rising_edges(line) == 1; }, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace wren
