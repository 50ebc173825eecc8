#pragma once
// GuestMemory owns every mapping of guest RAM. All access from the VMM goes
// through its range-checked accessors; nothing else holds a raw guest pointer.
// Writes made by the VMM are recorded in a dirty bitmap because KVM's dirty
// log only sees writes made by the guest itself.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "hypervisor/mapping.h"

namespace wren {

struct MemoryRegion {
  uint64_t gpa = 0;
  uint64_t size = 0;
};

// A contiguous host view of part of guest memory. Only produced by
// GuestMemory, only valid while it lives.
using GuestSlice = std::span<uint8_t>;

class GuestMemory {
 public:
  // Allocates anonymous memory for each region. Regions must be page aligned,
  // non-empty, sorted and non-overlapping; throws std::invalid_argument if not.
  explicit GuestMemory(std::vector<MemoryRegion> regions);

  // The standard x86 layout for `ram_bytes` of RAM: low RAM up to the PCI
  // hole, the rest above 4 GiB.
  static std::vector<MemoryRegion> x86_layout(uint64_t ram_bytes);

  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // Byte-range access. Return false (and touch nothing) if any byte of
  // [gpa, gpa+len) is outside guest RAM or the arithmetic overflows.
  [[nodiscard]] bool read(uint64_t gpa, std::span<uint8_t> out) const;
  [[nodiscard]] bool write(uint64_t gpa, std::span<const uint8_t> in);
  [[nodiscard]] bool fill(uint64_t gpa, uint8_t value, uint64_t len);
  // Whether every byte of [gpa, gpa+len) is zero, checked in place (no
  // copy); nullopt if the range is not all guest RAM.
  [[nodiscard]] std::optional<bool> all_zero(uint64_t gpa, uint64_t len) const;

  // Typed access for trivially copyable objects (copied, never aliased).
  template <typename T>
  [[nodiscard]] std::optional<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    if (!read(gpa, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(T)))) return std::nullopt;
    return value;
  }
  template <typename T>
  [[nodiscard]] bool write_obj(uint64_t gpa, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
  }

  // Host views covering [gpa, gpa+len), split at region boundaries; nullopt
  // if any part is outside RAM. `for_write` marks the range dirty.
  [[nodiscard]] std::optional<std::vector<GuestSlice>> slices(uint64_t gpa, uint64_t len, bool for_write);

  // Makes KVM drop its mapping of the 4 KiB page holding gpa, so the guest's
  // next access faults into KVM again (pc-testdev's flush-page, for guest
  // test suites). Contents are kept and the page stays writable throughout,
  // so VMM threads using it are never disturbed. False if gpa is not RAM.
  bool refault_page(uint64_t gpa);

  // True if [gpa, gpa+len) is entirely guest RAM (overflow-checked).
  [[nodiscard]] bool contains(uint64_t gpa, uint64_t len) const;

  uint64_t total_bytes() const;
  const std::vector<MemoryRegion>& regions() const { return regions_; }

  // Host address of a whole region, for KVM_SET_USER_MEMORY_REGION only.
  uint64_t host_address_for_kvm(size_t region_index) const;

  // VMM-side dirty tracking, one bit per 4 KiB page of each region.
  void mark_dirty(uint64_t gpa, uint64_t len);
  // Returns and clears the VMM dirty bitmap of a region (64 pages per word).
  std::vector<uint64_t> take_dirty_bitmap(size_t region_index);

 private:
  struct Backing {
    MemoryRegion region;
    Mapping mapping;
    std::unique_ptr<std::atomic<uint64_t>[]> dirty;
    size_t dirty_words = 0;
  };
  // Locate the region holding gpa; nullptr if none.
  const Backing* find(uint64_t gpa) const;
  template <typename Fn>
  bool for_each_chunk(uint64_t gpa, uint64_t len, Fn&& fn) const;

  std::vector<MemoryRegion> regions_;
  std::vector<Backing> backings_;
};

}  // namespace wren
