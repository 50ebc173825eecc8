#pragma once
// virtio-net feature groups and rules (virtio 1.2, 5.1.3), shared by the
// device, the control queue, the header checks and the TAP.
#include "virtio/net/virtio_net_abi.h"

#include <cstdint>

#include "virtio/features.h"

namespace wren {

// Guest receive offloads the driver may switch with CTRL_GUEST_OFFLOADS
// (its value is a mask in feature-bit positions).
inline constexpr uint64_t kGuestOffloadFeatures =
    feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_TSO4) | feature_bit(VIRTIO_NET_F_GUEST_TSO6) |
    feature_bit(VIRTIO_NET_F_GUEST_ECN) | feature_bit(VIRTIO_NET_F_GUEST_UFO);

}  // namespace wren
