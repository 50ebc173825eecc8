#pragma once
// KVM's binary statistics of the VM and each vCPU (KVM_GET_STATS_FD), opened
// once at start-up and served on the control socket as `query-stats` and
// `query-stats-schemas`. Where KVM has no binary stats (before Linux 5.14) or
// refuses a file, those commands answer with what there is (QEMU does the same).
#include <memory>
#include <vector>

#include "hypervisor/kvm.h"
#include "hypervisor/kvm_stats.h"
#include "vmm/api/stats_report.h"

namespace wren {

class ApiServer;

class KvmStatsFiles {
 public:
  KvmStatsFiles(const Vm& vm, const std::vector<Vcpu>& vcpus);

  StatsSources sources() const;
  void register_api(ApiServer& api) const;

 private:
  std::unique_ptr<KvmStatsFd> vm_;
  std::vector<std::unique_ptr<KvmStatsFd>> vcpus_;
};

}  // namespace wren
