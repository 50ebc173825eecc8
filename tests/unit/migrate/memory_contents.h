#pragma once
// Every byte of guest RAM, region after region: what tests compare after a
// snapshot load or a migration.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "hypervisor/guest_memory.h"

namespace wren::migrate {

inline std::vector<uint8_t> contents(const GuestMemory& memory) {
  std::vector<uint8_t> out;
  for (const auto& r : memory.regions()) {
    std::vector<uint8_t> part(r.size);
    EXPECT_TRUE(memory.read(r.gpa, part));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

}  // namespace wren::migrate
