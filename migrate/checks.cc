#include "migrate/checks.h"

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

namespace wren::migrate {

std::optional<std::string> check_queue(const QueueState& state, uint16_t max_size, const GuestMemory& memory) {
  if (auto error = Queue::check(state, max_size, memory))
    return std::string("queue: ") + std::string(to_string(*error));
  return std::nullopt;
}

std::optional<std::string> check_transport(const VirtioTransportState& s, uint64_t offered_features,
                                           std::span<const uint16_t> queue_max_sizes, const GuestMemory& memory) {
  constexpr uint8_t kKnownStatus = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK |
                                   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED;
  constexpr uint8_t kKnownIsr = 0x1 | VIRTIO_PCI_ISR_CONFIG;  // queue interrupt, config change
  if (s.queues.size() != queue_max_sizes.size())
    return "transport has " + std::to_string(s.queues.size()) + " queues, this device has " +
           std::to_string(queue_max_sizes.size());
  if (s.queue_vectors.size() != s.queues.size()) return "queue vector count != queue count";
  if (s.driver_features & ~offered_features) return "acked features are not a subset of the offered ones";
  if (s.status & ~kKnownStatus) return "device status with unknown bits";
  if (s.isr & ~kKnownIsr) return "ISR with unknown bits";
  for (size_t i = 0; i < s.queues.size(); ++i) {
    if (auto problem = check_queue(s.queues[i], queue_max_sizes[i], memory))
      return "queue " + std::to_string(i) + ": " + *problem;
  }
  return std::nullopt;
}

std::optional<std::string> check_net_control(const NetControlState& state, uint64_t features,
                                             const NetControlLimits& limits) {
  return state.validate(features, limits);
}

}  // namespace wren::migrate
