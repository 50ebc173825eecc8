#include "hypervisor/guest_memory.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <limits>
#include <thread>

#include "hypervisor/layout.h"

namespace wren {
namespace {

constexpr uint64_t kPage = 4096;

GuestMemory two_regions() { return GuestMemory({{0, 4 * kPage}, {0x10000, 2 * kPage}}); }

TEST(GuestMemory, RejectsBadRegions) {
  EXPECT_THROW(GuestMemory({}), std::invalid_argument);
  EXPECT_THROW(GuestMemory({{0, 0}}), std::invalid_argument);
  EXPECT_THROW(GuestMemory({{1, kPage}}), std::invalid_argument);
  EXPECT_THROW(GuestMemory({{0, kPage + 1}}), std::invalid_argument);
  EXPECT_THROW(GuestMemory({{0, 2 * kPage}, {kPage, kPage}}), std::invalid_argument);
  EXPECT_THROW(GuestMemory({{0x10000, kPage}, {0, kPage}}), std::invalid_argument);
}

TEST(GuestMemory, ReadWriteRoundTrip) {
  auto mem = two_regions();
  ASSERT_TRUE(mem.write_obj<uint32_t>(0x100, 0xdeadbeef));
  EXPECT_EQ(mem.read_obj<uint32_t>(0x100), 0xdeadbeefu);
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x10000 + 2 * kPage - 8, 42));
  EXPECT_EQ(mem.read_obj<uint64_t>(0x10000 + 2 * kPage - 8), 42u);
}

TEST(GuestMemory, RefusesEveryOutOfRangeAccess) {
  auto mem = two_regions();
  std::array<uint8_t, 8> buf{};
  EXPECT_FALSE(mem.read(4 * kPage, buf));                                  // in the gap
  EXPECT_FALSE(mem.read(4 * kPage - 4, buf));                              // straddles into the gap
  EXPECT_FALSE(mem.read(0x10000 + 2 * kPage - 4, buf));                    // runs off the end
  EXPECT_FALSE(mem.read(0x10000 + 2 * kPage, buf));                        // just past the end
  EXPECT_FALSE(mem.write(std::numeric_limits<uint64_t>::max() - 3, buf));  // address overflow
  EXPECT_FALSE(mem.read(std::numeric_limits<uint64_t>::max(), buf));
  EXPECT_FALSE(mem.contains(8, std::numeric_limits<uint64_t>::max()));
  EXPECT_FALSE(mem.slices(0, 4 * kPage + 1, false).has_value());
  EXPECT_FALSE(mem.fill(0x10000, 0, 3 * kPage));
  EXPECT_FALSE(mem.read_obj<uint64_t>(4 * kPage - 1).has_value());
}

TEST(GuestMemory, FailedWriteTouchesNothing) {
  auto mem = two_regions();
  std::array<uint8_t, 8> ones;
  ones.fill(1);
  EXPECT_FALSE(mem.write(4 * kPage - 4, ones));
  EXPECT_EQ(mem.read_obj<uint32_t>(4 * kPage - 4), 0u);
  for (auto w : mem.take_dirty_bitmap(0)) EXPECT_EQ(w, 0u);
}

TEST(GuestMemory, ZeroLengthAccessInsideRamIsAllowed) {
  auto mem = two_regions();
  EXPECT_TRUE(mem.contains(0, 0));
  EXPECT_TRUE(mem.read(0x100, std::span<uint8_t>()));
}

TEST(GuestMemory, SlicesSplitAtAdjacentRegions) {
  GuestMemory mem({{0, kPage}, {kPage, kPage}});
  auto s = mem.slices(kPage - 16, 32, false);
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].size(), 16u);
  EXPECT_EQ((*s)[1].size(), 16u);
}

TEST(GuestMemory, WritesMarkPagesDirty) {
  auto mem = two_regions();
  ASSERT_TRUE(mem.write_obj<uint16_t>(kPage - 1, 0xffff));  // touches pages 0 and 1
  auto bits = mem.take_dirty_bitmap(0);
  EXPECT_EQ(bits[0], 0b11u);
  EXPECT_EQ(mem.take_dirty_bitmap(0)[0], 0u);  // taking clears
  ASSERT_TRUE(mem.slices(0x10000 + kPage, 8, true).has_value());
  EXPECT_EQ(mem.take_dirty_bitmap(1)[0], 0b10u);
  ASSERT_TRUE(mem.slices(0, 8, false).has_value());
  EXPECT_EQ(mem.take_dirty_bitmap(0)[0], 0u);  // read-only views do not dirty
}

TEST(GuestMemory, X86LayoutSplitsAroundThePciHole) {
  auto small = GuestMemory::x86_layout(512 * layout::kMiB);
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small[0].size, 512 * layout::kMiB);
  auto big = GuestMemory::x86_layout(4 * layout::kGiB);
  ASSERT_EQ(big.size(), 2u);
  EXPECT_EQ(big[0].size, layout::kLowRamEnd);
  EXPECT_EQ(big[1].gpa, layout::kHighRamStart);
  EXPECT_EQ(big[1].size, 4 * layout::kGiB - layout::kLowRamEnd);
}

TEST(GuestMemoryAllZero, ChecksInPlaceAcrossRegionsAndRefusesOutsideRam) {
  GuestMemory mem({{0, 2 * kPage}, {0x10000, kPage}});
  EXPECT_EQ(mem.all_zero(0, 2 * kPage), std::optional<bool>(true));
  ASSERT_TRUE(mem.write_obj<uint8_t>(2 * kPage - 1, 7));  // the very last byte of a region
  EXPECT_EQ(mem.all_zero(0, 2 * kPage), std::optional<bool>(false));
  EXPECT_EQ(mem.all_zero(0, 2 * kPage - 1), std::optional<bool>(true));
  ASSERT_TRUE(mem.write_obj<uint8_t>(0x10000 + 64, 1));  // past the first 64-byte block
  EXPECT_EQ(mem.all_zero(0x10000, 64), std::optional<bool>(true));
  EXPECT_EQ(mem.all_zero(0x10000, 65), std::optional<bool>(false));
  EXPECT_EQ(mem.all_zero(kPage, 2 * kPage), std::nullopt);     // runs into the gap
  EXPECT_EQ(mem.all_zero(UINT64_MAX - 10, 20), std::nullopt);  // wraps
}

TEST(GuestMemory, RefaultPageKeepsContentsAndRefusesNonRam) {
  auto mem = two_regions();
  ASSERT_TRUE(mem.write_obj<uint64_t>(0x10000 + 8, 0x1122334455667788));
  EXPECT_TRUE(mem.refault_page(0x10000 + 123));
  EXPECT_EQ(mem.read_obj<uint64_t>(0x10000 + 8), 0x1122334455667788u);
  EXPECT_TRUE(mem.write_obj<uint64_t>(0x10000 + 8, 7));
  EXPECT_FALSE(mem.refault_page(4 * kPage));
  EXPECT_FALSE(mem.refault_page(std::numeric_limits<uint64_t>::max()));
}

TEST(GuestMemory, RefaultPageNeverFaultsAConcurrentWriter) {
  // A device thread writing the page while the guest asks for a flush must
  // not crash the VMM (a PROT_NONE window would).
  auto mem = two_regions();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t i = 0; !stop; ++i) ASSERT_TRUE(mem.write_obj<uint64_t>(0x10000, i));
  });
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(mem.refault_page(0x10000));
  stop = true;
  writer.join();
}

}  // namespace
}  // namespace wren
