#pragma once
// The machine's side of the live-migration compatibility check.
#include <cstdint>
#include <string>
#include <vector>

#include "migrate/live/vm_config.h"

namespace wren {

struct RunConfig;

// What the built devices offer their guests, in command-line order.
struct OfferedDevices {
  std::vector<uint64_t> nic_features;
  struct Disk {
    uint64_t features = 0;
    uint64_t capacity_bytes = 0;
    std::string serial;
  };
  std::vector<Disk> disks;
};

// The configuration both ends compare: RAM, vCPUs, CPU model, each NIC's
// guest-visible setup (offered features, queue pairs, transport, mac-change,
// mac-lock) and each disk's (offered features, capacity, read-only, serial,
// transport, queues).
[[nodiscard]] migrate::live::VmConfig machine_vm_config(const RunConfig& config, const OfferedDevices& offered);

}  // namespace wren
