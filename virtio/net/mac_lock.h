#pragma once
// mac-lock=on, like OpenBSD vmd's locked MAC and macvtap's spoof check: a
// guest may transmit only frames whose Ethernet source address is its NIC's
// current MAC, so it cannot pose as another station on the host's network.
#include <cstddef>
#include <span>

#include "virtio/net/mac_address.h"

namespace wren {

// Destination (6 bytes), then source (6 bytes).
inline constexpr size_t kEthernetSourceOffset = MacAddress::kSize;
inline constexpr size_t kEthernetAddressesBytes = kEthernetSourceOffset + MacAddress::kSize;

// True if `frame_start` (a frame's first bytes, at most the whole frame)
// carries `own` as its source address. A frame too short to hold a source
// address proves nothing and is refused.
[[nodiscard]] inline bool sent_from(std::span<const uint8_t> frame_start, const MacAddress& own) {
  if (frame_start.size() < kEthernetAddressesBytes) return false;
  return MacAddress::from_bytes(frame_start.subspan(kEthernetSourceOffset)) == own;
}

}  // namespace wren
