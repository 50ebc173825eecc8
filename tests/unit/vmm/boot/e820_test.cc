#include "vmm/boot/e820.h"

#include <gtest/gtest.h>

#include "hypervisor/layout.h"

namespace wren {
namespace {

using layout::kGiB;
using layout::kMiB;

constexpr E820Entry ram(uint64_t a, uint64_t end) { return {a, end - a, E820Type::kRam}; }
constexpr E820Entry reserved(uint64_t a, uint64_t end) { return {a, end - a, E820Type::kReserved}; }

const E820Entry kLowRam = ram(0, layout::kEbdaStart);
const E820Entry kBiosArea = reserved(layout::kEbdaStart, 1 * kMiB);
const E820Entry kEcam = reserved(layout::kPciEcamStart, layout::kPciEcamStart + layout::kPciEcamSize);

void expect_sorted_disjoint(const std::vector<E820Entry>& map) {
  for (size_t i = 1; i < map.size(); ++i) EXPECT_LE(map[i - 1].addr + map[i - 1].size, map[i].addr) << i;
}

TEST(E820, Guest256MiB) {
  const auto map = build_e820(GuestMemory::x86_layout(256 * kMiB));
  EXPECT_EQ(map, (std::vector<E820Entry>{kLowRam, kBiosArea, ram(1 * kMiB, 256 * kMiB), kEcam}));
}

TEST(E820, Guest3GiBFillsLowRam) {
  const auto map = build_e820(GuestMemory::x86_layout(3 * kGiB));
  EXPECT_EQ(map, (std::vector<E820Entry>{kLowRam, kBiosArea, ram(1 * kMiB, 3 * kGiB), kEcam}));
}

TEST(E820, Guest4GiBPutsTheRestAbove4GiB) {
  const auto map = build_e820(GuestMemory::x86_layout(4 * kGiB));
  EXPECT_EQ(map, (std::vector<E820Entry>{kLowRam, kBiosArea, ram(1 * kMiB, 3 * kGiB), kEcam, ram(4 * kGiB, 5 * kGiB)}));
}

TEST(E820, Guest8GiB) {
  const auto map = build_e820(GuestMemory::x86_layout(8 * kGiB));
  EXPECT_EQ(map, (std::vector<E820Entry>{kLowRam, kBiosArea, ram(1 * kMiB, 3 * kGiB), kEcam, ram(4 * kGiB, 9 * kGiB)}));
  expect_sorted_disjoint(map);
  uint64_t ram_total = 0;
  for (const auto& e : map)
    if (e.type == E820Type::kRam) ram_total += e.size;
  // Everything but the 384 KiB BIOS hole is usable.
  EXPECT_EQ(ram_total, 8 * kGiB - (1 * kMiB - layout::kEbdaStart));
}

TEST(E820, RamOverlappingReservedRangesIsCut) {
  const auto map = build_e820({{0, 4 * kGiB}});  // not the standard layout: covers the ECAM too
  EXPECT_EQ(map, (std::vector<E820Entry>{kLowRam, kBiosArea, ram(1 * kMiB, layout::kPciEcamStart), kEcam,
                                         ram(layout::kPciEcamStart + layout::kPciEcamSize, 4 * kGiB)}));
}

}  // namespace
}  // namespace wren
