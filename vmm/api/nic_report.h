#pragma once
// JSON views of a NIC for the control socket (query-rx-filter, query-counters, events).
#include <nlohmann/json.hpp>

#include "virtio/net/net_device.h"
#include "virtio/pci/virtio_pci_device.h"

namespace wren {

// QEMU's RxFilterInfo for query-rx-filter, plus the member "wren" (below).
nlohmann::json rx_filter_json(const RxFilterReport& report);
nlohmann::json counters_json(const NetCounters& counters);
// The rest: raw flags, host-side filter, queue pairs, offloads, counters.
nlohmann::json wren_facts_json(const RxFilterReport& report);

// Transport facts a test or operator wants to see: mode, device status,
// driver features, whether MSI-X is enabled.
nlohmann::json transport_json(const VirtioPciDevice::Status& status);

}  // namespace wren
