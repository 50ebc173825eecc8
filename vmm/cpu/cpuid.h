#pragma once
// CPU models: turn the host's KVM_GET_SUPPORTED_CPUID table into the table a
// given vCPU receives through KVM_SET_CPUID2. The model decides which
// features the guest may see; the vCPU index and count fix the topology
// fields (APIC ids, core counts, cache sharing) that differ per vCPU.
#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wren {

enum class CpuModelId {
  kHost,      // everything KVM supports on this host
  kBaseline,  // a conservative, migration-safe subset (see baseline_masked_features())
};

struct CpuModel {
  CpuModelId id;
  std::string_view name;
  std::string_view description;
};

std::span<const CpuModel> cpu_models();
std::optional<CpuModel> cpu_model_by_name(std::string_view name);
// "host, baseline": for the CLI's error message.
std::string cpu_model_names();

enum class CpuidReg { kEax, kEbx, kEcx, kEdx };

struct CpuidFeature {
  uint32_t leaf;
  uint32_t subleaf;
  CpuidReg reg;
  uint32_t bit;
  std::string_view name;
};

// Feature bits the baseline model clears: those that differ between x86
// hosts of the last decade (AVX-512, TSX, AMX, PKU, SGX, Intel PT, newer
// string/move instructions, RDSEED, SHA, VMX/SVM nesting, invariant TSC...).
std::span<const CpuidFeature> baseline_masked_features();
// Leaves the baseline model drops entirely: the PMU (0xA) and leaves that
// describe masked features (SGX 0x12, PT 0x14, Key Locker 0x19, hybrid 0x1A,
// PCONFIG 0x1B, AMX 0x1D/0x1E, HRESET 0x20).
std::span<const uint32_t> baseline_removed_leaves();
// XSAVE state components the baseline model keeps in leaf 0xD: x87, SSE, AVX.
inline constexpr uint64_t kBaselineXcr0Mask = 0x7;

// Leaf 0x15 (TSC / core crystal clock) describing a vCPU whose TSC runs at
// `tsc_khz`. The crystal is KVM's 1 GHz APIC timer clock, since Linux also
// derives its APIC timer period from it. Linux multiplies crystal kHz by the
// numerator in 32 bits, so the ratio is the closest one whose numerator keeps
// that product below 2^32. nullopt for a tsc_khz of 0, or when no such ratio
// gives Linux the rate within 1 kHz (rare: 2599974 kHz is one).
struct TscLeaf {
  uint32_t denominator;  // eax
  uint32_t numerator;    // ebx
  uint32_t crystal_hz;   // ecx
};
inline constexpr uint32_t kCrystalHz = 1'000'000'000;
std::optional<TscLeaf> tsc_leaf(uint32_t tsc_khz);

// The table for vCPU `vcpu_index` of `vcpu_count` (APIC id = index; one
// package, `vcpu_count` cores, one thread each). Only edits leaves present
// in `supported`; never invents one. Sets the HYPERVISOR bit. With a
// `tsc_khz` (the vCPU's KVM_GET_TSC_KHZ; 0 when unknown) on an Intel host,
// fills leaf 0x15 so the guest knows its TSC rate instead of calibrating it
// against the slow ACPI PM timer, again and again on an emulated backend.
// Throws std::invalid_argument if vcpu_count is 0 or vcpu_index >= vcpu_count.
std::vector<kvm_cpuid_entry2> vcpu_cpuid(const CpuModel& model, std::span<const kvm_cpuid_entry2> supported,
                                         uint32_t vcpu_index, uint32_t vcpu_count, uint32_t tsc_khz = 0);

}  // namespace wren
