#pragma once
// What the host side (the TAP) must deliver for the guest's receive filter.
// Installing it (with the offloads and queue attachment) is host_side.h's job.
//
// The host filter is a pre-filter: it may pass more than RxFilter::accept()
// accepts (accept() still runs on every frame), never less. It is always
// recomputed from guest-visible state, never stored on its own.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "virtio/net/mac_address.h"
#include "virtio/net/rx_filter.h"

namespace wren {

enum class HostRxLevel : uint8_t {
  None,       // exactly the listed addresses (our MACs, broadcast, the multicast table)
  Multicast,  // every multicast frame plus the listed unicast addresses
  All,        // everything (promiscuous)
};
std::string_view to_string(HostRxLevel level);

struct HostFilter {
  HostRxLevel level = HostRxLevel::All;
  // Exact unicast destinations: the primary MAC first, then the unicast table.
  // Empty when level is All.
  std::vector<MacAddress> unicast;
  // Exact multicast destinations (broadcast included unless NOBCAST); only
  // meaningful, and only non-empty, when level is None.
  std::vector<MacAddress> multicast;

  // Whether a frame for `dest` passes this filter (the semantics a backend
  // must implement, at least).
  [[nodiscard]] bool passes(const MacAddress& dest) const;

  friend bool operator==(const HostFilter&, const HostFilter&) = default;
};

// The host filter for `filter`. Until the driver negotiates CTRL_RX it cannot
// program the filter, so the host delivers at least all multicast (in
// practice everything: the filter is promiscuous after reset).
[[nodiscard]] HostFilter compute_host_filter(const RxFilter& filter, bool ctrl_rx_negotiated);

}  // namespace wren
