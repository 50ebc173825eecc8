#pragma once
// The control socket's view of KVM's own statistics, in QEMU's shapes
// (qapi/stats.json, QEMU 7.1 on):
//   query-stats {"target": "vm"|"vcpu", "providers": [{"provider": "kvm",
//               "names": [...]}], "vcpus": [QOM path, ...] (vcpu only)}
//     -> [{"provider": "kvm", "qom-path": "/machine/unattached/device[N]",
//          "stats": [{"name": ..., "value": int | bool | [int]}]}]
//   query-stats-schemas {"provider": "kvm"}
//     -> [{"provider": "kvm", "target": ..., "stats": [{"name", "type",
//          "unit", "base", "exponent", "bucket-size"}]}]
// As in QEMU: vCPU N is "/machine/unattached/device[N]" (QEMU creates the
// CPUs first), the VM has no qom-path, a source left with no stats after
// filtering is left out, an empty filter list selects nothing, and stats of
// a kind QEMU does not know are skipped. Values are read when asked (pread on
// KVM's stats fd, while the vCPUs run).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hypervisor/kvm_stats.h"

namespace wren {

struct StatsSources {
  const KvmStatsFd* vm = nullptr;        // null where KVM has no binary stats
  std::vector<const KvmStatsFd*> vcpus;  // by vCPU index; null entries as for vm
};

std::string vcpu_qom_path(size_t index);

// Both throw ApiError (GenericError, QEMU's wording) for arguments QEMU refuses.
nlohmann::json query_stats_json(const nlohmann::json& arguments, const StatsSources& sources);
nlohmann::json query_stats_schemas_json(const nlohmann::json& arguments, const StatsSources& sources);

}  // namespace wren
