#include "devices/platform/pc_testdev.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "hypervisor/io_bus.h"

namespace wren {
namespace {

// Through an IoBus at the real ports, as a vCPU reaches the device.
class PcTestdevTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bus.insert(PcTestdev::kBase, PcTestdev::kLength, dev)); }
  uint32_t inl(uint16_t port) {
    std::array<uint8_t, 4> b{};
    EXPECT_TRUE(bus.read(port, b));
    return b[0] | b[1] << 8 | b[2] << 16 | uint32_t{b[3]} << 24;
  }
  uint8_t inb(uint16_t port) {
    std::array<uint8_t, 1> b{};
    EXPECT_TRUE(bus.read(port, b));
    return b[0];
  }
  void outl(uint16_t port, uint32_t v) {
    const std::array<uint8_t, 4> b{uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    EXPECT_TRUE(bus.write(port, b));
  }
  void outb(uint16_t port, uint8_t v) { EXPECT_TRUE(bus.write(port, std::array<uint8_t, 1>{v})); }

  IoBus bus;
  std::vector<uint64_t> flushed;
  std::shared_ptr<PcTestdev> dev = std::make_shared<PcTestdev>([this](uint64_t gpa) { flushed.push_back(gpa); });
};

TEST_F(PcTestdevTest, StartsAtZero) { EXPECT_EQ(inl(0xe0), 0u); }

TEST_F(PcTestdevTest, ReadsBackEveryWidth) {
  outl(0xe0, 0x12345678);
  EXPECT_EQ(inl(0xe0), 0x12345678u);
  EXPECT_EQ(inb(0xe0), 0x78);
  EXPECT_EQ(inb(0xe3), 0x12);
  std::array<uint8_t, 2> w{};
  ASSERT_TRUE(bus.read(0xe2, w));
  EXPECT_EQ(w[0], 0x34);
  EXPECT_EQ(w[1], 0x12);
}

TEST_F(PcTestdevTest, ByteWriteChangesOnlyItsLane) {
  outl(0xe0, 0x12345678);
  outb(0xe2, 0xab);
  EXPECT_EQ(inl(0xe0), 0x12ab5678u);
  ASSERT_TRUE(bus.write(0xe0, std::array<uint8_t, 2>{0xcd, 0xef}));
  EXPECT_EQ(inl(0xe0), 0x12abefcdu);
}

TEST_F(PcTestdevTest, ByteWindowIsTheSameRegister) {
  outl(0xe8, 0xdeadbeef);
  EXPECT_EQ(inl(0xe0), 0xdeadbeefu);
  outb(0xeb, 0x01);
  EXPECT_EQ(inl(0xe8), 0x01adbeefu);
  EXPECT_EQ(inb(0xe3), 0x01);
}

TEST_F(PcTestdevTest, FlushPageTakesAWholeAddressAndLeavesTheRegister) {
  outl(0xe0, 0x12345678);
  outl(0xe4, 0x00101000);
  EXPECT_EQ(flushed, std::vector<uint64_t>{0x00101000});
  outb(0xe4, 0x20);                                            // not a whole address
  EXPECT_TRUE(bus.write(0xe6, std::array<uint8_t, 2>{1, 2}));  // nor this
  EXPECT_EQ(flushed.size(), 1u);
  EXPECT_EQ(inl(0xe4), 0u);
  EXPECT_EQ(inl(0xe0), 0x12345678u);
}

TEST_F(PcTestdevTest, StringWritesLandInOrder) {
  // `rep outsb` to 0xe0: each byte replaces lane 0; the last one stays.
  for (uint8_t b : {0x11, 0x22, 0x33}) outb(0xe0, b);
  EXPECT_EQ(inb(0xe0), 0x33);
}

TEST_F(PcTestdevTest, ConcurrentLaneWritesKeepEachOther) {
  std::vector<std::thread> cpus;
  for (uint16_t lane = 0; lane < 4; ++lane)
    cpus.emplace_back([this, lane] {
      for (int i = 0; i < 20000; ++i) outb(0xe0 + lane, static_cast<uint8_t>(i % 2 ? 0x40 + lane : 0x80 + lane));
    });
  for (auto& t : cpus) t.join();
  // Each lane ends with its own last value (i = 19999 is odd).
  EXPECT_EQ(inl(0xe0), 0x43424140u);
}

}  // namespace
}  // namespace wren
