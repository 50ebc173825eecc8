#pragma once
// Serializers for virtio queue and transport state. Both travel only inside
// the virtio-pci/function payload, and its version lays them out: a build
// must be able to write every importable version of a payload, and a cereal
// class version of a nested struct is fixed per build.
//
// Layout by virtio-pci/function version:
//   v1: the transport and its queues as cereal-versioned structs (a class
//       version word, always 1, before the transport and before its first
//       queue); every queue repeated its MSI-X vector after next_used, equal
//       to queue_vectors[i] (checked when read, then dropped).
//   v2: no class version words; each vector once, in queue_vectors.
#include <string>

#include "migrate/archive.h"
#include "virtio/pci/transport_core.h"
#include "virtio/queue.h"

namespace wren {

// Far above any device we build (virtio-net with 8 queue pairs has 17).
inline constexpr size_t kArchiveMaxQueues = 1024;

namespace archive_detail {

// The class version word cereal wrote before a nested struct's first instance
// in a v1 payload. JSON is only written at the current version.
template <class A>
void v1_class_version(A& ar, const char* what) {
  if constexpr (!migrate::kText<A>) {
    std::uint32_t version = 1;
    ar(version);
    if (version != 1) throw migrate::DecodeError(std::string(what) + ": unknown version " + std::to_string(version));
  }
}

// One queue; `vector` is the transport's vector for it (v1 repeats it).
template <class A>
void serialize_queue(A& ar, QueueState& s, std::uint16_t vector, std::uint32_t version, bool first) {
  if (version == 1 && first) v1_class_version(ar, "QueueState");
  migrate::field(ar, "size", s.size);
  migrate::field(ar, "ready", s.ready);
  migrate::field(ar, "desc_addr", s.desc_addr);
  migrate::field(ar, "avail_addr", s.avail_addr);
  migrate::field(ar, "used_addr", s.used_addr);
  migrate::field(ar, "next_avail", s.next_avail);
  migrate::field(ar, "next_used", s.next_used);
  if (version == 1) {
    std::uint16_t repeated = vector;
    migrate::field(ar, "msix_vector", repeated);
    if (repeated != vector) throw migrate::DecodeError("QueueState: MSI-X vector differs from queue_vectors");
  }
  migrate::field(ar, "event_idx", s.event_idx);
}

}  // namespace archive_detail

// The transport at virtio-pci/function `version` (see above).
template <class A>
void serialize_transport(A& ar, VirtioTransportState& s, std::uint32_t version) {
  if (version == 1) archive_detail::v1_class_version(ar, "VirtioTransportState");
  migrate::field(ar, "status", s.status);
  migrate::field(ar, "driver_features", s.driver_features);
  migrate::field(ar, "device_feature_select", s.device_feature_select);
  migrate::field(ar, "driver_feature_select", s.driver_feature_select);
  migrate::field(ar, "queue_select", s.queue_select);
  migrate::field(ar, "isr", s.isr);
  migrate::field(ar, "config_generation", s.config_generation);
  migrate::field(ar, "config_vector", s.config_vector);
  migrate::field_vector(ar, "queue_vectors", s.queue_vectors, kArchiveMaxQueues);
  size_t n = s.queues.size();
  migrate::begin_list(ar, "queues", kArchiveMaxQueues, n);
  if constexpr (migrate::kLoading<A>) s.queues.assign(n, QueueState{});
  if (n != s.queue_vectors.size()) {
    const std::string why =
        std::to_string(s.queue_vectors.size()) + " queue vectors for " + std::to_string(n) + " queues";
    if constexpr (migrate::kLoading<A>) throw migrate::DecodeError("VirtioTransportState: " + why);
    throw std::invalid_argument("VirtioTransportState: " + why);
  }
  for (size_t i = 0; i < n; ++i) {
    migrate::field_object(
        ar, "queue", [&] { archive_detail::serialize_queue(ar, s.queues[i], s.queue_vectors[i], version, i == 0); });
  }
  migrate::end_list(ar);
}

}  // namespace wren
