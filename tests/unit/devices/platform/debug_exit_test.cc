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

TEST(DebugExit, AccessStartingBeyondWidthIsIgnored) {
  int calls = 0;
  DebugExit dev(0xf4, 1, [&](int) { ++calls; });
  std::array<uint8_t, 1> b{1};
  dev.write(1, b);
  dev.write(3, b);
  EXPECT_EQ(calls, 0);
}

TEST(DebugExit, WiderAccessUsesTheBytesInsideTheWidth) {
  // QEMU: an outl to a 1-port isa-debug-exit exits with the low byte.
  std::optional<int> status;
  DebugExit dev(0xf4, 1, [&](int s) { status = s; });
  std::array<uint8_t, 4> l{0x05, 0x01, 0xff, 0xff};
  dev.write(0, l);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, (0x05 << 1) | 1);

  DebugExit dev2(0xf4, 2, [&](int s) { status = s; });
  dev2.write(1, l);  // starts inside, one byte of it inside
  EXPECT_EQ(*status, (0x05 << 1) | 1);
}

TEST(DebugExit, ClaimsRoomForAnyAccessWidth) {
  EXPECT_EQ(DebugExit(0xf4, 1, [](int) {}).claimed_length(), 4u);
  EXPECT_EQ(DebugExit(0xf4, 2, [](int) {}).claimed_length(), 4u);
  EXPECT_EQ(DebugExit(0xf4, 4, [](int) {}).claimed_length(), 4u);
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
