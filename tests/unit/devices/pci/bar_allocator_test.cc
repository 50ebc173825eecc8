#include "devices/pci/bar_allocator.h"

#include <gtest/gtest.h>

namespace wren::pci {
namespace {

TEST(BarAllocator, NaturallyAlignsAndPacks) {
  BarAllocator a(0xc0000000, 0xc0100000);
  EXPECT_EQ(a.allocate(0x1000), 0xc0000000u);
  EXPECT_EQ(a.allocate(0x4000), 0xc0004000u);  // aligned up past the first
  EXPECT_EQ(a.allocate(0x1000), 0xc0008000u);
  EXPECT_EQ(a.allocate(0x10), 0xc0009000u);
}

TEST(BarAllocator, RefusesWhenFullOrBadSize) {
  BarAllocator a(0xc000, 0x10000);
  EXPECT_EQ(a.allocate(0x2000), 0xc000u);
  EXPECT_EQ(a.allocate(0x2000), 0xe000u);
  EXPECT_FALSE(a.allocate(4).has_value());
  BarAllocator b(0, 0x1000);
  EXPECT_FALSE(b.allocate(0).has_value());
  EXPECT_FALSE(b.allocate(3).has_value());
  EXPECT_FALSE(b.allocate(0x2000).has_value());
  BarAllocator c(UINT64_MAX - 0x10, UINT64_MAX);
  EXPECT_FALSE(c.allocate(0x100).has_value());  // alignment would wrap
}

}  // namespace
}  // namespace wren::pci
