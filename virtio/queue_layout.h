#pragma once
// The guest-visible layout of a virtio 1.x split virtqueue (virtio spec 2.7):
// descriptor table, available ring and used ring. Offsets and sizes only;
// every access still goes through GuestMemory. Shared by Queue, the chain
// walker, the fake test driver and the legacy transport's ring placement.
#include <bit>
#include <cstdint>

namespace wren::split_ring {

static_assert(std::endian::native == std::endian::little, "virtio 1.x rings are little-endian; host must be too");

// One descriptor, exactly as the guest lays it out (16 bytes, little-endian).
struct Descriptor {
  uint64_t addr = 0;
  uint32_t len = 0;
  uint16_t flags = 0;
  uint16_t next = 0;
};
static_assert(sizeof(Descriptor) == 16);

// One used-ring element (8 bytes).
struct UsedElement {
  uint32_t id = 0;   // head index of the completed chain
  uint32_t len = 0;  // bytes the device wrote into the chain's writable part
};
static_assert(sizeof(UsedElement) == 8);

// Descriptor flags.
inline constexpr uint16_t kDescNext = 1;
inline constexpr uint16_t kDescWrite = 2;
inline constexpr uint16_t kDescIndirect = 4;
// avail->flags: the driver asks for no interrupts (ignored under EVENT_IDX).
inline constexpr uint16_t kAvailNoInterrupt = 1;
// used->flags: the device asks for no kicks (ignored under EVENT_IDX).
inline constexpr uint16_t kUsedNoNotify = 1;

// Required alignment of each part (virtio 1.x, 2.7 "Virtqueue alignment").
inline constexpr uint64_t kDescAlign = 16;
inline constexpr uint64_t kAvailAlign = 2;
inline constexpr uint64_t kUsedAlign = 4;

// Largest queue size a split ring can have (spec: at most 32768).
inline constexpr uint16_t kMaxQueueSize = 32768;

// Sizes in bytes, including the trailing used_event / avail_event fields
// (always present in memory whether or not EVENT_IDX is negotiated).
constexpr uint64_t desc_table_bytes(uint16_t size) { return uint64_t{16} * size; }
constexpr uint64_t avail_ring_bytes(uint16_t size) { return 6 + uint64_t{2} * size; }
constexpr uint64_t used_ring_bytes(uint16_t size) { return 6 + uint64_t{8} * size; }

// Offsets inside the available ring: flags, idx, ring[size], used_event.
inline constexpr uint64_t kAvailFlags = 0;
inline constexpr uint64_t kAvailIdx = 2;
constexpr uint64_t avail_ring_entry(uint16_t slot) { return 4 + uint64_t{2} * slot; }
constexpr uint64_t avail_used_event(uint16_t size) { return 4 + uint64_t{2} * size; }

// Offsets inside the used ring: flags, idx, ring[size], avail_event.
inline constexpr uint64_t kUsedFlags = 0;
inline constexpr uint64_t kUsedIdx = 2;
constexpr uint64_t used_ring_entry(uint16_t slot) { return 4 + uint64_t{8} * slot; }
constexpr uint64_t used_avail_event(uint16_t size) { return 4 + uint64_t{8} * size; }

// The legacy (virtio 0.9.5) placement: one guest-physical block starting at
// `base` (queue PFN * 4096), avail right after the descriptor table, used at
// the next `align` boundary (4096 for legacy PCI).
struct RingAddresses {
  uint64_t desc = 0;
  uint64_t avail = 0;
  uint64_t used = 0;
};
constexpr RingAddresses legacy_ring_addresses(uint64_t base, uint16_t size, uint64_t align = 4096) {
  const uint64_t avail = base + desc_table_bytes(size);
  const uint64_t avail_end = avail + avail_ring_bytes(size);
  return {base, avail, (avail_end + align - 1) & ~(align - 1)};
}

}  // namespace wren::split_ring
