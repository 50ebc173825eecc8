#pragma once
// Serializer for virtio-blk guest-visible state (virtio-blk/device).
//
// v1: active, features, writeback, the image's size and inode (the
//     destination refuses another image), read-only, the queue count, and
//     per queue the heads of the requests in flight at the save (the
//     destination executes them again; see virtio/blk/blk_device.h).
#include "migrate/archive.h"
#include "virtio/blk/blk_device.h"

WREN_ARCHIVE_VERSION(wren::BlkDevice::State, 1)

namespace wren {

inline constexpr size_t kArchiveMaxBlkInFlight = 32768;

template <class A>
void serialize(A& ar, BlkDevice::State& s, std::uint32_t version) {
  migrate::require_version<BlkDevice::State>(version, "BlkDevice::State");
  migrate::field(ar, "active", s.active);
  migrate::field(ar, "features", s.features);
  migrate::field(ar, "writeback", s.writeback);
  migrate::field(ar, "capacity_bytes", s.capacity_bytes);
  migrate::field(ar, "image_inode", s.image_inode);
  migrate::field(ar, "read_only", s.read_only);
  migrate::field(ar, "queues", s.queues);
  migrate::field_nested_vectors(ar, "in_flight", s.in_flight, kBlkMaxQueues, kArchiveMaxBlkInFlight);
}

}  // namespace wren
