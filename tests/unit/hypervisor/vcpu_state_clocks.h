#pragma once
// A captured vCPU state minus the parts that count time between two
// captures, so that a capture, restore and second capture compare equal.
#include <algorithm>
#include <cstring>

#include "hypervisor/vcpu_state.h"

namespace wren {

inline VcpuState without_clocks(VcpuState s) {
  constexpr uint32_t kMsrTsc = 0x10;
  // Hyper-V's per-vCPU run time and reference counter: readable on AMD's KVM,
  // and they count like the TSC.
  constexpr uint32_t kMsrHypervVpRuntime = 0x40000010;
  constexpr uint32_t kMsrHypervTimeRefCount = 0x40000020;
  std::erase_if(s.msrs, [](const MsrValue& m) {
    return m.index == kMsrTsc || m.index == kMsrHypervVpRuntime || m.index == kMsrHypervTimeRefCount;
  });
  std::memset(s.lapic.regs + 0x390, 0, 4);  // LAPIC timer current count
  return s;
}

}  // namespace wren
