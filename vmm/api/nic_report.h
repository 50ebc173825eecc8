#pragma once
// JSON views of a NIC for the control socket (query-rx-filter and events).
#include <nlohmann/json.hpp>

#include "virtio/net/net_device.h"
#include "virtio/pci/virtio_pci_device.h"

namespace wren {

nlohmann::json rx_filter_json(const RxFilterReport& report);
nlohmann::json counters_json(const NetCounters& counters);

// Transport facts a test or operator wants to see: mode, device status,
// driver features, whether MSI-X is enabled.
nlohmann::json transport_json(const VirtioPciDevice::Status& status);

}  // namespace wren
