#include "hypervisor/loop_hold.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace wren {
namespace {

TEST(LoopHold, NothingRunsOnTheLoopWhileHeld) {
  EventLoop loop;
  loop.start();
  std::atomic<int> ran{0};
  {
    LoopHold hold(loop);
    boost::asio::post(loop.context(), [&] { ran = 1; });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(ran.load(), 0) << "a handler ran while the loop was held";
  }
  for (int i = 0; i < 200 && ran.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(ran.load(), 1) << "the held handler never ran after release";
  loop.stop();
}

TEST(LoopHold, RefusedOnTheLoopThreadItself) {
  EventLoop loop;
  loop.start();
  std::atomic<int> outcome{0};
  boost::asio::post(loop.context(), [&] {
    try {
      LoopHold hold(loop);
      outcome = 1;
    } catch (const std::logic_error&) {
      outcome = 2;
    }
  });
  for (int i = 0; i < 200 && outcome.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(outcome.load(), 2);
  loop.stop();
}

}  // namespace
}  // namespace wren
