#include <cstdio>

#include "vmm/cli/run_config.h"
#include "vmm/migration/machine_vm_config.h"

namespace wren {

migrate::live::VmConfig machine_vm_config(const RunConfig& config, const std::vector<uint64_t>& nic_offered_features) {
  migrate::live::VmConfig out;
  out.memory_bytes = config.memory_bytes;
  out.vcpus = config.cpus;
  out.cpu_model = config.cpu_model;
  for (size_t i = 0; i < config.nets.size(); ++i) {
    const auto& net = config.nets[i];
    char features[32];
    std::snprintf(features, sizeof features, "0x%016llx",
                  static_cast<unsigned long long>(i < nic_offered_features.size() ? nic_offered_features[i] : 0));
    // The MAC and the TAP name are not compared: the MAC travels in the
    // device payload and the TAP is named anew on each host.
    out.devices.push_back({"virtio-net",
                           "net" + std::to_string(i),
                           {{"features", features},
                            {"queue-pairs", std::to_string(net.queue_pairs)},
                            {"transport", net.transitional ? "transitional" : "modern"},
                            {"mac-change", net.mac_change ? "on" : "off"}}});
  }
  return out;
}

}  // namespace wren
