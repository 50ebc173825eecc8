#include "devices/platform/pc_testdev_iomem.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "hypervisor/io_bus.h"
#include "hypervisor/little_endian.h"

namespace wren {
namespace {

class PcTestdevIomemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus.insert(PcTestdevIomem::kBase, PcTestdevIomem::kLength, std::make_shared<PcTestdevIomem>()));
  }
  uint64_t read(uint64_t gpa, size_t width) {
    std::array<uint8_t, 8> b{};
    EXPECT_TRUE(bus.read(gpa, std::span(b).first(width)));
    return load_le(std::span(b).first(width));
  }
  void write(uint64_t gpa, uint64_t v, size_t width) {
    std::array<uint8_t, 8> b{};
    store_le(b, v);
    EXPECT_TRUE(bus.write(gpa, std::span<const uint8_t>(b).first(width)));
  }
  IoBus bus;
};

TEST_F(PcTestdevIomemTest, IsSixtyFourKiBAt0xff000000StartingZeroed) {
  EXPECT_EQ(PcTestdevIomem::kBase, 0xff000000u);
  EXPECT_EQ(PcTestdevIomem::kLength, 0x10000u);
  EXPECT_EQ(read(0xff000000, 8), 0u);
  EXPECT_EQ(read(0xff00fff8, 8), 0u);
  std::array<uint8_t, 1> b{};
  EXPECT_FALSE(bus.read(0xff010000, b));  // just past the window
}

TEST_F(PcTestdevIomemTest, ReadsBackEveryWidthLittleEndian) {
  write(0xff000010, 0x1122334455667788, 8);
  EXPECT_EQ(read(0xff000010, 8), 0x1122334455667788u);
  EXPECT_EQ(read(0xff000010, 4), 0x55667788u);
  EXPECT_EQ(read(0xff000014, 2), 0x3344u);
  EXPECT_EQ(read(0xff000017, 1), 0x11u);
  write(0xff000011, 0xab, 1);
  EXPECT_EQ(read(0xff000010, 4), 0x5566ab88u);
  write(0xff000013, 0xcafe, 2);  // unaligned
  EXPECT_EQ(read(0xff000010, 8), 0x112233cafe66ab88u);
}

TEST_F(PcTestdevIomemTest, LastBytesOfTheWindow) {
  write(0xff00fffc, 0xdeadbeef, 4);
  EXPECT_EQ(read(0xff00fffc, 4), 0xdeadbeefu);
  EXPECT_EQ(read(0xff00ffff, 1), 0xdeu);
}

}  // namespace
}  // namespace wren
