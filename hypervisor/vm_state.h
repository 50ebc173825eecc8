#pragma once
// The VM-wide state KVM keeps for an x86 guest with an in-kernel irqchip:
// the two 8259 PICs, the IOAPIC, the 8254 PIT and the kvmclock.
//
// capture_vm_state() with every vCPU paused; restore_vm_state() into a VM
// whose irqchip (and PIT, if the state has one) was created and whose vCPUs
// have not run yet. KVM validates the values (a refusal throws KvmError).
#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <string>

#include "hypervisor/kvm.h"

namespace wren {

struct VmState {
  kvm_pic_state pic_master{};
  kvm_pic_state pic_slave{};
  kvm_ioapic_state ioapic{};
  bool has_pit = false;  // the VM had an in-kernel PIT (KVM_CREATE_PIT2)
  kvm_pit_state2 pit{};
  // kvmclock: the guest's clock in ns at capture time. Only `clock` is
  // restored (flags are host facts, e.g. whether the TSC is stable).
  uint64_t clock_ns = 0;
  uint32_t clock_flags = 0;

  friend bool operator==(const VmState& a, const VmState& b);
};

// Reads the PIT only if `with_pit` (KVM_GET_PIT2 fails without one).
[[nodiscard]] VmState capture_vm_state(const Vm& vm, bool with_pit = true);

// Structural checks before anything reaches KVM. Returns the first problem.
[[nodiscard]] std::optional<std::string> check_vm_state(const VmState& state);

// Order: PIT and irqchips (no interrupt is delivered while vCPUs are
// stopped), then the clock. Throws KvmError if KVM refuses a value and
// std::invalid_argument if check_vm_state fails.
void restore_vm_state(Vm& vm, const VmState& state);

}  // namespace wren
