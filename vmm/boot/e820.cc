#include "vmm/boot/e820.h"

#include <algorithm>
#include <array>

#include "hypervisor/layout.h"

namespace wren {

namespace {

struct Range {
  uint64_t start;
  uint64_t end;  // exclusive
};

// Ranges that are never reported as RAM, even if a region covers them.
constexpr std::array<Range, 2> kReserved = {{
    {layout::kEbdaStart, layout::kHighMemStart},  // EBDA, VGA hole, BIOS area with the ACPI tables
    // Linux only trusts the MCFG window if the firmware map reserves it.
    {layout::kPciEcamStart, layout::kPciEcamStart + layout::kPciEcamSize},
}};

}  // namespace

std::vector<E820Entry> build_e820(const std::vector<MemoryRegion>& regions) {
  std::vector<E820Entry> out;
  for (const auto& r : regions) {
    // Cut the reserved ranges (sorted) out of this region.
    uint64_t cur = r.gpa;
    const uint64_t end = r.gpa + r.size;
    for (const auto& hole : kReserved) {
      if (hole.end <= cur || hole.start >= end) continue;
      if (hole.start > cur) out.push_back({cur, hole.start - cur, E820Type::kRam});
      cur = std::min(end, hole.end);
    }
    if (end > cur) out.push_back({cur, end - cur, E820Type::kRam});
  }
  for (const auto& hole : kReserved) out.push_back({hole.start, hole.end - hole.start, E820Type::kReserved});
  std::sort(out.begin(), out.end(), [](const E820Entry& a, const E820Entry& b) { return a.addr < b.addr; });
  return out;
}

}  // namespace wren
