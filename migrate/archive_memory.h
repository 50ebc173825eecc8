#pragma once
// Serializer for the guest RAM layout payload.
#include "hypervisor/guest_memory.h"
#include "migrate/archive.h"
#include "migrate/guest_pages.h"

WREN_ARCHIVE_VERSION(wren::migrate::GuestMemoryLayout, 1)

namespace wren {

template <class A>
void serialize(A& ar, MemoryRegion& r) {
  migrate::field(ar, "gpa", r.gpa);
  migrate::field(ar, "size", r.size);
}

namespace migrate {

// Far more regions than any layout we build (x86: two).
inline constexpr size_t kArchiveMaxRegions = 64;

// v1: the regions, in order.
template <class A>
void serialize(A& ar, GuestMemoryLayout& l, std::uint32_t version) {
  require_version<GuestMemoryLayout>(version, "GuestMemoryLayout");
  field_vector(ar, "regions", l.regions, kArchiveMaxRegions);
}

}  // namespace migrate
}  // namespace wren
