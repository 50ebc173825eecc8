#pragma once
// Serializers for virtio queue and transport state.
#include "migrate/archive.h"
#include "virtio/pci/transport_core.h"
#include "virtio/queue.h"

// Current versions (see archive.h); bump when a serializer gains a field.
WREN_ARCHIVE_VERSION(wren::QueueState, 1)
WREN_ARCHIVE_VERSION(wren::VirtioTransportState, 1)

namespace wren {

// Far above any device we build (virtio-net with 8 queue pairs has 17).
inline constexpr size_t kArchiveMaxQueues = 1024;

// v1: every QueueState field.
template <class A>
void serialize(A& ar, QueueState& s, std::uint32_t version) {
  migrate::require_version<QueueState>(version, "QueueState");
  migrate::field(ar, "size", s.size);
  migrate::field(ar, "ready", s.ready);
  migrate::field(ar, "desc_addr", s.desc_addr);
  migrate::field(ar, "avail_addr", s.avail_addr);
  migrate::field(ar, "used_addr", s.used_addr);
  migrate::field(ar, "next_avail", s.next_avail);
  migrate::field(ar, "next_used", s.next_used);
  migrate::field(ar, "msix_vector", s.msix_vector);
  migrate::field(ar, "event_idx", s.event_idx);
}

// v1: every VirtioTransportState field.
template <class A>
void serialize(A& ar, VirtioTransportState& s, std::uint32_t version) {
  migrate::require_version<VirtioTransportState>(version, "VirtioTransportState");
  migrate::field(ar, "status", s.status);
  migrate::field(ar, "driver_features", s.driver_features);
  migrate::field(ar, "device_feature_select", s.device_feature_select);
  migrate::field(ar, "driver_feature_select", s.driver_feature_select);
  migrate::field(ar, "queue_select", s.queue_select);
  migrate::field(ar, "isr", s.isr);
  migrate::field(ar, "config_generation", s.config_generation);
  migrate::field(ar, "config_vector", s.config_vector);
  migrate::field_vector(ar, "queue_vectors", s.queue_vectors, kArchiveMaxQueues);
  migrate::field_vector(ar, "queues", s.queues, kArchiveMaxQueues);
}

}  // namespace wren
