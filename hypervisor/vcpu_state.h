#pragma once
// Everything KVM keeps about one x86 vCPU, as plain data: what a snapshot or a
// live migration must carry so that the guest continues exactly where it was.
//
// capture_vcpu_state() reads it (the vCPU must not be running: call it from
// the vCPU's own thread between KVM_RUNs, or with the vCPU paused);
// restore_vcpu_state() writes it into a vCPU that has been created but not
// yet run, in the order KVM requires. KVM itself validates every value it is
// given (a refused value throws KvmError naming the ioctl); check_vcpu_state()
// adds the structural checks that must hold before anything is handed to KVM.
#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hypervisor/kvm.h"

namespace wren {

struct MsrValue {
  uint32_t index = 0;
  uint64_t data = 0;
  friend bool operator==(const MsrValue&, const MsrValue&) = default;
};

struct VcpuState {
  // Upper bounds for the variable-length parts (far above what KVM reports
  // today; they only bound what a restore accepts).
  static constexpr size_t kMaxCpuidEntries = 256;
  static constexpr size_t kMaxMsrs = 1024;
  static constexpr size_t kMaxXsaveWords = 64 * 1024;  // 256 KiB
  static constexpr size_t kXsaveLegacyWords = 1024;    // struct kvm_xsave's 4 KiB region

  std::vector<kvm_cpuid_entry2> cpuid;  // KVM_GET_CPUID2; restored first
  kvm_regs regs{};
  kvm_sregs sregs{};
  // FPU/SSE/AVX state: the XSAVE area (KVM_GET_XSAVE/XSAVE2) when the host
  // has KVM_CAP_XSAVE, otherwise empty and `fpu` (KVM_GET_FPU) holds it.
  std::vector<uint32_t> xsave;
  kvm_fpu fpu{};
  std::vector<kvm_xcr> xcrs;  // empty without KVM_CAP_XCRS
  kvm_debugregs debugregs{};
  kvm_lapic_state lapic{};
  std::vector<MsrValue> msrs;  // every MSR of the KVM index list that KVM_GET_MSRS accepts
  kvm_vcpu_events events{};
  kvm_mp_state mp_state{};
  uint32_t tsc_khz = 0;  // 0 = unknown (no KVM_CAP_GET_TSC_KHZ)

  // Field-wise (bytes of the kernel structs: both sides come zero-filled
  // from KVM or from a decoder, so padding compares equal).
  friend bool operator==(const VcpuState& a, const VcpuState& b);
};

// Names the first part where a and b differ ("msr 0x1b: ... vs ...", "lapic
// at byte 912"), or nullopt when they are equal; operator== is built on it.
[[nodiscard]] std::optional<std::string> first_difference(const VcpuState& a, const VcpuState& b);

// The MSRs of KVM's index list that this vCPU lets us read (KVM_GET_MSRS
// stops at the first refused index; the list is probed in batches). Compute
// once per machine and pass to capture_vcpu_state.
[[nodiscard]] std::vector<uint32_t> saveable_msr_indices(const Vcpu& vcpu, const Kvm& kvm);

[[nodiscard]] VcpuState capture_vcpu_state(const Vcpu& vcpu, const Kvm& kvm, const std::vector<uint32_t>& msr_indices);
[[nodiscard]] VcpuState capture_vcpu_state(const Vcpu& vcpu, const Kvm& kvm);
// The vCPU's TSC rate (KVM_GET_TSC_KHZ); 0 if KVM cannot tell.
[[nodiscard]] uint32_t vcpu_tsc_khz(const Vcpu& vcpu, const Kvm& kvm);

// Structural checks before anything reaches KVM: bounded lists, an XSAVE area
// the size this host's KVM expects, XCR/MSR/mp_state values KVM knows.
// Returns the first problem.
[[nodiscard]] std::optional<std::string> check_vcpu_state(const VcpuState& state, const Kvm& kvm);

// Order (facts from the KVM API and other VMMs): CPUID first (other state is
// checked against it); MP state; regs (SET_REGS clears pending exceptions, so
// before events); sregs (carry the APIC base MSR, so before the LAPIC);
// XSAVE/FPU then XCRs; debug registers; LAPIC (before MSRs: the TSC deadline
// MSR needs a configured LAPIC); MSRs; vCPU events last. Throws KvmError if
// KVM refuses a value and std::invalid_argument if check_vcpu_state fails.
void restore_vcpu_state(Vcpu& vcpu, const Kvm& kvm, const VcpuState& state);

}  // namespace wren
