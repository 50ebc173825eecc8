#include "hypervisor/mapping.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace wren {
namespace {

// The VmFlags of the mapping that starts at `addr`, from /proc/self/smaps.
std::string vm_flags_of(const void* addr) {
  char start[32];
  std::snprintf(start, sizeof start, "%lx-", reinterpret_cast<unsigned long>(addr));
  std::ifstream smaps("/proc/self/smaps");
  bool in_mapping = false;
  for (std::string line; std::getline(smaps, line);) {
    if (line.rfind(start, 0) == 0) in_mapping = true;
    if (in_mapping && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

TEST(GuestRamMapping, IsHugePageAlignedAndAdvised) {
  for (size_t size : {size_t{4096}, size_t{3} << 20, size_t{64} << 20}) {
    Mapping m = Mapping::guest_ram(size);
    ASSERT_TRUE(m.valid());
    EXPECT_EQ(m.size(), size);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % Mapping::kHugePageSize, 0u) << size;
    const std::string flags = vm_flags_of(m.data());
    ASSERT_FALSE(flags.empty()) << "no mapping starts at the guest RAM address";
    EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;  // MADV_HUGEPAGE
    m.data()[0] = 1;
    m.data()[size - 1] = 2;  // the whole range is usable
    EXPECT_EQ(m.data()[size - 1], 2);
  }
}

TEST(GuestRamMapping, RefusesImpossibleSizes) { EXPECT_THROW(Mapping::guest_ram(SIZE_MAX - 4095), std::system_error); }

}  // namespace
}  // namespace wren
