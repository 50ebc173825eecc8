#include "vmm/migration/machine_vm_config.h"

#include <cstdio>

#include "vmm/cli/run_config.h"

namespace wren {

namespace {

std::string hex64(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

template <typename T>
T at_or_default(const std::vector<T>& values, size_t i) {
  return i < values.size() ? values[i] : T{};
}

}  // namespace

migrate::live::VmConfig machine_vm_config(const RunConfig& config, const OfferedDevices& offered) {
  migrate::live::VmConfig out;
  out.memory_bytes = config.memory_bytes;
  out.vcpus = config.cpus;
  out.cpu_model = config.cpu_model;
  for (size_t i = 0; i < config.nets.size(); ++i) {
    const auto& net = config.nets[i];
    // The MAC and the TAP name are not compared: the MAC travels in the
    // device payload and the TAP is named anew on each host.
    out.devices.push_back({"virtio-net",
                           "net" + std::to_string(i),
                           {{"features", hex64(at_or_default(offered.nic_features, i))},
                            {"queue-pairs", std::to_string(net.queue_pairs)},
                            {"transport", net.transitional ? "transitional" : "modern"},
                            {"mac-change", net.mac_change ? "on" : "off"}}});
    // Only when on, so that a source from before mac-lock still matches a
    // destination without it.
    if (net.mac_lock) out.devices.back().params.emplace("mac-lock", "on");
  }
  for (size_t i = 0; i < config.disks.size(); ++i) {
    const auto& disk = config.disks[i];
    const auto identity = at_or_default(offered.disks, i);
    // The path and the cache mode are the host's own (the destination may
    // reach the same image by another path); what the guest sees must match.
    out.devices.push_back({"virtio-blk",
                           "disk" + std::to_string(i),
                           {{"features", hex64(identity.features)},
                            {"capacity", std::to_string(identity.capacity_bytes)},
                            {"read-only", disk.read_only ? "on" : "off"},
                            {"serial", identity.serial},
                            {"transport", disk.transitional ? "transitional" : "modern"},
                            {"queues", std::to_string(disk.queues)}}});
  }
  return out;
}

}  // namespace wren
