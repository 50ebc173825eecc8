#include "devices/platform/pc_testdev_irq.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "hypervisor/io_bus.h"
#include "unit/devices/platform/fake_irq_line.h"

namespace wren {
namespace {

// Through an IoBus at the real ports, as a vCPU reaches the device.
class PcTestdevIrqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PcTestdevIrqLines::Lines wired{};
    for (size_t i = 0; i < wired.size(); ++i) wired[i] = &lines[i];
    wired[5] = nullptr;  // an input the machine left unwired
    ASSERT_TRUE(
        bus.insert(PcTestdevIrqLines::kBase, PcTestdevIrqLines::kLength, std::make_shared<PcTestdevIrqLines>(wired)));
  }
  void outb(uint16_t port, uint8_t v) { EXPECT_TRUE(bus.write(port, std::array<uint8_t, 1>{v})); }

  std::array<testing::FakeIrqLine, PcTestdevIrqLines::kLength> lines;
  IoBus bus;
};

TEST_F(PcTestdevIrqTest, CoversTheTwentyFourIoApicInputsFrom0x2000) {
  EXPECT_EQ(PcTestdevIrqLines::kBase, 0x2000);
  EXPECT_EQ(PcTestdevIrqLines::kLength, 24u);
  outb(0x2000, 1);
  outb(0x2017, 1);
  EXPECT_EQ(lines[0].levels(), std::vector<bool>{true});
  EXPECT_EQ(lines[23].levels(), std::vector<bool>{true});
  for (size_t i = 1; i < 23; ++i) EXPECT_TRUE(lines[i].levels().empty()) << "input " << i;
  EXPECT_FALSE(bus.write(0x2018, std::array<uint8_t, 1>{1}));  // past the last input
}

// An edge-triggered test raises then lowers the line: the device passes both.
TEST_F(PcTestdevIrqTest, EdgeIsARaiseThenALower) {
  outb(0x200e, 1);
  outb(0x200e, 0);
  EXPECT_EQ(lines[14].levels(), (std::vector<bool>{true, false}));
  EXPECT_FALSE(lines[14].level());
}

// A level-triggered test holds the line high across several EOIs, then drops it.
TEST_F(PcTestdevIrqTest, LevelStaysWhereItWasSet) {
  outb(0x200f, 0x80);  // any nonzero byte is high
  EXPECT_TRUE(lines[15].level());
  outb(0x200f, 1);
  EXPECT_TRUE(lines[15].level());
  outb(0x200f, 0);
  EXPECT_EQ(lines[15].levels(), (std::vector<bool>{true, true, false}));
}

TEST_F(PcTestdevIrqTest, OnlyByteWritesCountAsInQemu) {
  EXPECT_TRUE(bus.write(0x2002, std::array<uint8_t, 2>{1, 1}));
  EXPECT_TRUE(bus.write(0x2004, std::array<uint8_t, 4>{1, 1, 1, 1}));
  for (const auto& line : lines) EXPECT_TRUE(line.levels().empty());
}

TEST_F(PcTestdevIrqTest, UnwiredInputIsANoOpAndReadsAreZero) {
  outb(0x2005, 1);
  EXPECT_TRUE(lines[5].levels().empty());
  std::array<uint8_t, 1> b{0xaa};
  EXPECT_TRUE(bus.read(0x2003, b));
  EXPECT_EQ(b[0], 0);
}

}  // namespace
}  // namespace wren
