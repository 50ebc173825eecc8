#pragma once
// JSON views of a NIC for the control socket (query-rx-filter, query-counters, events).
#include <nlohmann/json.hpp>
#include <span>

#include "virtio/net/net_device.h"

namespace wren {

// QEMU's RxFilterInfo for query-rx-filter, plus the member "wren" (below).
nlohmann::json rx_filter_json(const RxFilterReport& report);
// The rest: raw flags, host-side filter, queue pairs, offloads, counters.
nlohmann::json wren_facts_json(const RxFilterReport& report);

// Transport facts a test or operator wants to see: device status, driver
// features, whether MSI-X is enabled (from the function's PCI config bytes).
nlohmann::json transport_json(uint8_t status, uint64_t driver_features, std::span<const uint8_t> pci_config,
                              bool transitional);

}  // namespace wren
