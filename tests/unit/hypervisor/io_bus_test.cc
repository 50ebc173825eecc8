#include "hypervisor/io_bus.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace wren {
namespace {

struct Recorder : BusDevice {
  std::vector<uint64_t> offsets;
  void read(uint64_t offset, std::span<uint8_t> data) override {
    offsets.push_back(offset);
    for (auto& b : data) b = 0x5a;
  }
  void write(uint64_t offset, std::span<const uint8_t>) override { offsets.push_back(offset); }
};

TEST(IoBus, DispatchesWithRelativeOffsets) {
  IoBus bus;
  auto dev = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.insert(0x3f8, 8, dev));
  std::array<uint8_t, 1> b{};
  EXPECT_TRUE(bus.read(0x3fd, b));
  EXPECT_EQ(b[0], 0x5a);
  EXPECT_TRUE(bus.write(0x3f8, b));
  EXPECT_EQ(dev->offsets, (std::vector<uint64_t>{5, 0}));
}

TEST(IoBus, RefusesOverlapsAndPartialCoverage) {
  IoBus bus;
  auto dev = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.insert(0x100, 0x10, dev));
  EXPECT_FALSE(bus.insert(0x108, 0x10, dev));
  EXPECT_FALSE(bus.insert(0xf8, 0x10, dev));
  EXPECT_FALSE(bus.insert(0x200, 0, dev));
  EXPECT_FALSE(bus.insert(~0ull - 2, 8, dev));
  std::array<uint8_t, 4> w{};
  EXPECT_FALSE(bus.read(0x10e, w));  // crosses the end of the range
  EXPECT_EQ(w[0], 0xff);
  EXPECT_FALSE(bus.write(0x50, w));
  EXPECT_TRUE(bus.remove(0x100));
  EXPECT_TRUE(bus.insert(0x108, 0x10, dev));
}

}  // namespace
}  // namespace wren
