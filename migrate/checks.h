#pragma once
// Migration-level checks of imported state against the destination machine
// (guest memory, what the device offers). Each returns the first problem;
// pass them as the `check` of Import::take(). They come on top of, not
// instead of, the component's own restore() validation.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "hypervisor/guest_memory.h"
#include "virtio/net/ctrl_command.h"
#include "virtio/pci/transport_core.h"
#include "virtio/queue.h"

namespace wren::migrate {

// Size, ring alignment and ring placement (Queue::check) for a queue whose
// device maximum is `max_size`.
[[nodiscard]] std::optional<std::string> check_queue(const QueueState& state, uint16_t max_size,
                                                     const GuestMemory& memory);

// The transport as the destination's device sees it: as many queues as it
// has (each checked with check_queue), acked features a subset of the
// offered ones, known status and ISR bits.
[[nodiscard]] std::optional<std::string> check_transport(const VirtioTransportState& state, uint64_t offered_features,
                                                         std::span<const uint16_t> queue_max_sizes,
                                                         const GuestMemory& memory);

// The control-queue state against the negotiated features and device limits.
[[nodiscard]] std::optional<std::string> check_net_control(const NetControlState& state, uint64_t features,
                                                           const NetControlLimits& limits);

}  // namespace wren::migrate
