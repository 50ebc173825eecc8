#include "vmm/machine/kvm_stats_files.h"

#include <spdlog/spdlog.h>

#include "vmm/api/api_server.h"

namespace wren {

namespace {

// Statistics are diagnostics: a file KVM will not give is logged, and the VM runs without it.
std::unique_ptr<KvmStatsFd> open_stats(int kvm_fd, const char* what) {
  try {
    return std::make_unique<KvmStatsFd>(KvmStatsFd::open(kvm_fd));
  } catch (const KvmStatsError& e) {
    spdlog::warn("no KVM statistics for {}: {}", what, e.what());
    return nullptr;
  }
}

}  // namespace

KvmStatsFiles::KvmStatsFiles(const Vm& vm, const std::vector<Vcpu>& vcpus) {
  if (vm.check_extension(KVM_CAP_BINARY_STATS_FD) <= 0) {
    spdlog::info("KVM has no binary statistics (KVM_CAP_BINARY_STATS_FD): query-stats answers []");
    return;
  }
  vm_ = open_stats(vm.fd(), "the VM");
  for (const Vcpu& vcpu : vcpus)
    vcpus_.push_back(open_stats(vcpu.fd(), ("vCPU " + std::to_string(vcpu.index())).c_str()));
}

StatsSources KvmStatsFiles::sources() const {
  StatsSources s{vm_.get(), {}};
  for (const auto& v : vcpus_) s.vcpus.push_back(v.get());
  return s;
}

void KvmStatsFiles::register_api(ApiServer& api) const {
  api.add_command("query-stats", [this](const nlohmann::json& args) { return query_stats_json(args, sources()); });
  api.add_command("query-stats-schemas",
                  [this](const nlohmann::json& args) { return query_stats_schemas_json(args, sources()); });
}

}  // namespace wren
