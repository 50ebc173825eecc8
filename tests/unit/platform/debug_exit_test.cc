#include "devices/platform/debug_exit.h"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <stdexcept>

namespace wren {
namespace {

TEST(DebugExit, StatusMapping) {
  EXPECT_EQ(DebugExit::status_for(0), 1);
  EXPECT_EQ(DebugExit::status_for(1), 3);
  EXPECT_EQ(DebugExit::status_for(0x10), 0x21);
  EXPECT_EQ(DebugExit::status_for(0x7fffffff), -1);  // truncated to 32 bits, like QEMU
}

TEST(DebugExit, WriteInvokesCallbackWithMappedStatus) {
  std::optional<int> status;
  DebugExit dev(0x501, 2, [&](int s) { status = s; });
  std::array<uint8_t, 1> b{0x31};
  dev.write(0, b);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0x63);
  std::array<uint8_t, 2> w{0x34, 0x12};
  dev.write(0, w);
  EXPECT_EQ(*status, (0x1234 << 1) | 1);
}

TEST(DebugExit, AccessBeyondWidthIsIgnored) {
  int calls = 0;
  DebugExit dev(0xf4, 1, [&](int) { ++calls; });
  std::array<uint8_t, 2> w{1, 2};
  dev.write(0, w);
  EXPECT_EQ(calls, 0);
}

TEST(DebugExit, ReadsAllOnes) {
  DebugExit dev(0xf4, 4, [](int) {});
  std::array<uint8_t, 4> b{};
  dev.read(0, b);
  EXPECT_EQ(b, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(dev.port(), 0xf4);
  EXPECT_EQ(dev.width(), 4u);
}

TEST(DebugExit, RejectsBadWidth) {
  EXPECT_THROW(DebugExit(0xf4, 0, [](int) {}), std::invalid_argument);
  EXPECT_THROW(DebugExit(0xf4, 5, [](int) {}), std::invalid_argument);
}

}  // namespace
}  // namespace wren
