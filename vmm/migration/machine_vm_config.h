#pragma once
// The machine's side of the live-migration compatibility check.
#include <cstdint>
#include <vector>

#include "migrate/live/vm_config.h"

namespace wren {

struct RunConfig;

// The configuration both ends compare: RAM, vCPUs, CPU model and each NIC's
// guest-visible setup (offered features, queue pairs, transport, mac-change).
[[nodiscard]] migrate::live::VmConfig machine_vm_config(const RunConfig& config,
                                                        const std::vector<uint64_t>& nic_offered_features);

}  // namespace wren
