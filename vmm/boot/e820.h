#pragma once
// The BIOS E820 memory map the guest kernel receives in the zero page: which
// guest physical ranges are usable RAM and which the OS must leave alone.
#include <cstdint>
#include <vector>

#include "hypervisor/guest_memory.h"

namespace wren {

enum class E820Type : uint32_t {
  kRam = 1,
  kReserved = 2,
  kAcpi = 3,
};

struct E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  E820Type type = E820Type::kRam;

  bool operator==(const E820Entry&) const = default;
};

// The map for a guest whose RAM is `regions` (as GuestMemory::regions()):
// RAM below the EBDA, the EBDA..1 MiB BIOS area reserved (it holds the ACPI
// tables), RAM from 1 MiB, the PCI ECAM window reserved, RAM above 4 GiB.
// Sorted by address, no overlaps.
std::vector<E820Entry> build_e820(const std::vector<MemoryRegion>& regions);

}  // namespace wren
