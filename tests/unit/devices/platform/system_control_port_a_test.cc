#include "devices/platform/system_control_port_a.h"

#include <gtest/gtest.h>

#include <array>

#include "hypervisor/io_bus.h"

namespace wren {
namespace {

class SystemControlPortATest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bus.insert(SystemControlPortA::kPort, 1, port)); }
  uint8_t inb() {
    std::array<uint8_t, 1> b{};
    EXPECT_TRUE(bus.read(0x92, b));
    return b[0];
  }
  void outb(uint8_t v) { EXPECT_TRUE(bus.write(0x92, std::array<uint8_t, 1>{v})); }

  int resets = 0;
  std::shared_ptr<SystemControlPortA> port = std::make_shared<SystemControlPortA>([this] { ++resets; });
  IoBus bus;
};

TEST_F(SystemControlPortATest, StartsWithA20EnabledAndNoReset) {
  EXPECT_EQ(inb(), SystemControlPortA::kA20);
  EXPECT_EQ(resets, 0);
}

TEST_F(SystemControlPortATest, A20BitReadsBackWithoutResetting) {
  outb(0x00);
  EXPECT_EQ(inb(), 0x00);
  outb(0x02);
  EXPECT_EQ(inb(), 0x02);
  EXPECT_EQ(resets, 0);
}

// Linux and SeaBIOS read the port and write it back with bit 1 set, bit 0 clear.
TEST_F(SystemControlPortATest, FastResetOnBitZeroRising) {
  outb(static_cast<uint8_t>(inb() | 0x01));
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(port->reset_requests(), 1u);
  outb(0x03);  // still set: no new edge
  EXPECT_EQ(resets, 1);
  outb(0x02);
  outb(0x03);
  EXPECT_EQ(resets, 2);
}

}  // namespace
}  // namespace wren
