#include "vmm/cpu/cpuid.h"

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>

namespace wren {

namespace {

using enum CpuidReg;

constexpr std::array<CpuModel, 2> kModels = {{
    {CpuModelId::kHost, "host", "every feature KVM supports on this host (not migration safe)"},
    {CpuModelId::kBaseline, "baseline", "features common to x86-64 hosts of the last decade (migration safe)"},
}};

constexpr CpuidFeature kBaselineMasked[] = {
    // Leaf 1 ECX: monitoring, nested virtualization, host power management.
    {0x1, 0, kEcx, 3, "monitor"},
    {0x1, 0, kEcx, 5, "vmx"},
    {0x1, 0, kEcx, 6, "smx"},
    {0x1, 0, kEcx, 7, "est"},
    {0x1, 0, kEcx, 8, "tm2"},
    {0x1, 0, kEcx, 14, "xtpr"},
    {0x1, 0, kEcx, 15, "pdcm"},
    {0x1, 0, kEcx, 18, "dca"},
    // Leaf 7.0 EBX.
    {0x7, 0, kEbx, 2, "sgx"},
    {0x7, 0, kEbx, 4, "hle"},
    {0x7, 0, kEbx, 11, "rtm"},
    {0x7, 0, kEbx, 12, "rdt_m"},
    {0x7, 0, kEbx, 14, "mpx"},
    {0x7, 0, kEbx, 15, "rdt_a"},
    {0x7, 0, kEbx, 16, "avx512f"},
    {0x7, 0, kEbx, 17, "avx512dq"},
    {0x7, 0, kEbx, 18, "rdseed"},
    {0x7, 0, kEbx, 21, "avx512ifma"},
    {0x7, 0, kEbx, 25, "intel_pt"},
    {0x7, 0, kEbx, 26, "avx512pf"},
    {0x7, 0, kEbx, 27, "avx512er"},
    {0x7, 0, kEbx, 28, "avx512cd"},
    {0x7, 0, kEbx, 29, "sha_ni"},
    {0x7, 0, kEbx, 30, "avx512bw"},
    {0x7, 0, kEbx, 31, "avx512vl"},
    // Leaf 7.0 ECX.
    {0x7, 0, kEcx, 1, "avx512vbmi"},
    {0x7, 0, kEcx, 3, "pku"},
    {0x7, 0, kEcx, 4, "ospke"},
    {0x7, 0, kEcx, 5, "waitpkg"},
    {0x7, 0, kEcx, 6, "avx512_vbmi2"},
    {0x7, 0, kEcx, 7, "cet_ss"},
    {0x7, 0, kEcx, 8, "gfni"},
    {0x7, 0, kEcx, 9, "vaes"},
    {0x7, 0, kEcx, 10, "vpclmulqdq"},
    {0x7, 0, kEcx, 11, "avx512_vnni"},
    {0x7, 0, kEcx, 12, "avx512_bitalg"},
    {0x7, 0, kEcx, 13, "tme"},
    {0x7, 0, kEcx, 14, "avx512_vpopcntdq"},
    {0x7, 0, kEcx, 16, "la57"},
    {0x7, 0, kEcx, 22, "rdpid"},
    {0x7, 0, kEcx, 23, "keylocker"},
    {0x7, 0, kEcx, 24, "bus_lock_detect"},
    {0x7, 0, kEcx, 25, "cldemote"},
    {0x7, 0, kEcx, 27, "movdiri"},
    {0x7, 0, kEcx, 28, "movdir64b"},
    {0x7, 0, kEcx, 29, "enqcmd"},
    {0x7, 0, kEcx, 30, "sgx_lc"},
    {0x7, 0, kEcx, 31, "pks"},
    // Leaf 7.0 EDX (speculation-control bits stay: guests need them).
    {0x7, 0, kEdx, 2, "avx512_4vnniw"},
    {0x7, 0, kEdx, 3, "avx512_4fmaps"},
    {0x7, 0, kEdx, 4, "fsrm"},
    {0x7, 0, kEdx, 5, "uintr"},
    {0x7, 0, kEdx, 8, "avx512_vp2intersect"},
    {0x7, 0, kEdx, 14, "serialize"},
    {0x7, 0, kEdx, 15, "hybrid"},
    {0x7, 0, kEdx, 16, "tsxldtrk"},
    {0x7, 0, kEdx, 18, "pconfig"},
    {0x7, 0, kEdx, 19, "arch_lbr"},
    {0x7, 0, kEdx, 20, "cet_ibt"},
    {0x7, 0, kEdx, 22, "amx_bf16"},
    {0x7, 0, kEdx, 23, "avx512_fp16"},
    {0x7, 0, kEdx, 24, "amx_tile"},
    {0x7, 0, kEdx, 25, "amx_int8"},
    // Leaf 7.1 EAX.
    {0x7, 1, kEax, 4, "avx_vnni"},
    {0x7, 1, kEax, 5, "avx512_bf16"},
    {0x7, 1, kEax, 10, "fzrm"},
    {0x7, 1, kEax, 11, "fsrs"},
    {0x7, 1, kEax, 12, "fsrc"},
    {0x7, 1, kEax, 21, "amx_fp16"},
    {0x7, 1, kEax, 22, "hreset"},
    {0x7, 1, kEax, 23, "avx_ifma"},
    {0x7, 1, kEax, 26, "lam"},
    // Leaf 0xD.1 EAX: supervisor state and extended feature disable.
    {0xd, 1, kEax, 3, "xsaves"},
    {0xd, 1, kEax, 4, "xfd"},
    // AMD leaves.
    {0x80000001, 0, kEcx, 2, "svm"},
    {0x80000001, 0, kEcx, 11, "xop"},
    {0x80000001, 0, kEcx, 16, "fma4"},
    {0x80000001, 0, kEcx, 21, "tbm"},
    {0x80000001, 0, kEcx, 29, "monitorx"},
    {0x80000007, 0, kEdx, 8, "invtsc"},
};

constexpr uint32_t kBaselineRemoved[] = {0xa, 0x12, 0x14, 0x19, 0x1a, 0x1b, 0x1d, 0x1e, 0x20};

constexpr uint32_t kLeafFeatures = 0x1;
constexpr uint32_t kLeafCacheParams = 0x4;
constexpr uint32_t kLeafTopology = 0xb;
constexpr uint32_t kLeafXsave = 0xd;
constexpr uint32_t kLeafTopologyV2 = 0x1f;
constexpr uint32_t kLeafAmdSizes = 0x80000008;
constexpr uint32_t kLeafAmdCacheParams = 0x8000001d;
constexpr uint32_t kLeafAmdExtApicId = 0x8000001e;

constexpr uint32_t kEdxHtt = 1u << 28;
constexpr uint32_t kEcxHypervisor = 1u << 31;
constexpr uint32_t kLegacyXsaveAreaBytes = 512 + 64;  // legacy region + XSAVE header
constexpr uint32_t kTopologyLevelSmt = 1;
constexpr uint32_t kTopologyLevelCore = 2;

uint32_t& reg_of(kvm_cpuid_entry2& e, CpuidReg r) {
  switch (r) {
    case kEax: return e.eax;
    case kEbx: return e.ebx;
    case kEcx: return e.ecx;
    case kEdx: return e.edx;
  }
  throw std::logic_error("bad CpuidReg");
}

bool indexed(const kvm_cpuid_entry2& e) { return e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX; }

bool matches(const kvm_cpuid_entry2& e, uint32_t leaf, uint32_t subleaf) {
  return e.function == leaf && (!indexed(e) || e.index == subleaf);
}

kvm_cpuid_entry2* find(std::vector<kvm_cpuid_entry2>& t, uint32_t leaf, uint32_t subleaf) {
  for (auto& e : t)
    if (matches(e, leaf, subleaf)) return &e;
  return nullptr;
}

// Bits needed to number `n` items (0 for 1).
uint32_t id_bits(uint32_t n) { return n <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(n - 1)); }

uint32_t set_field(uint32_t reg, uint32_t lo, uint32_t width, uint32_t value) {
  const uint32_t max = (width >= 32) ? ~0u : (1u << width) - 1;
  const uint32_t mask = max << lo;
  return (reg & ~mask) | ((std::min(value, max) << lo) & mask);
}

void apply_baseline(std::vector<kvm_cpuid_entry2>& t) {
  std::erase_if(t, [](const kvm_cpuid_entry2& e) {
    return std::find(std::begin(kBaselineRemoved), std::end(kBaselineRemoved), e.function) !=
           std::end(kBaselineRemoved);
  });
  for (const auto& f : kBaselineMasked)
    if (auto* e = find(t, f.leaf, f.subleaf)) reg_of(*e, f.reg) &= ~(1u << f.bit);

  // XSAVE: only the x87/SSE/AVX components, no supervisor (XSS) components.
  auto* xcr0 = find(t, kLeafXsave, 0);
  if (!xcr0) return;
  xcr0->eax &= static_cast<uint32_t>(kBaselineXcr0Mask);
  xcr0->edx = 0;
  const uint64_t kept = xcr0->eax;
  if (auto* xss = find(t, kLeafXsave, 1)) xss->ecx = xss->edx = 0;
  std::erase_if(t, [&](const kvm_cpuid_entry2& e) {
    return e.function == kLeafXsave && e.index >= 2 && (e.index >= 64 || !(kept & (1ull << e.index)));
  });
  // Max save-area size for the components left.
  uint32_t size = kLegacyXsaveAreaBytes;
  for (const auto& e : t)
    if (e.function == kLeafXsave && e.index >= 2) size = std::max(size, e.eax + e.ebx);
  xcr0->ecx = size;
}

kvm_cpuid_entry2 topology_entry(uint32_t leaf, uint32_t subleaf, uint32_t x2apic_id, uint32_t vcpu_count) {
  kvm_cpuid_entry2 e{};
  e.function = leaf;
  e.index = subleaf;
  e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  e.edx = x2apic_id;
  if (subleaf == 0) {  // SMT: one thread per core
    e.eax = 0;
    e.ebx = 1;
    e.ecx = (kTopologyLevelSmt << 8) | subleaf;
  } else if (subleaf == 1) {  // cores: all vCPUs in one package
    e.eax = id_bits(vcpu_count);
    e.ebx = vcpu_count;
    e.ecx = (kTopologyLevelCore << 8) | subleaf;
  } else {  // end of the list
    e.ecx = subleaf;
  }
  return e;
}

void apply_topology(std::vector<kvm_cpuid_entry2>& t, uint32_t index, uint32_t count) {
  for (auto& e : t) {
    switch (e.function) {
      case kLeafFeatures:
        e.ebx = set_field(e.ebx, 24, 8, index & 0xff);  // initial APIC id
        e.ebx = set_field(e.ebx, 16, 8, count);         // logical processors per package
        e.edx = count > 1 ? (e.edx | kEdxHtt) : (e.edx & ~kEdxHtt);
        e.ecx |= kEcxHypervisor;
        break;
      case kLeafCacheParams:
      case kLeafAmdCacheParams: {
        if ((e.eax & 0x1f) == 0) break;  // no cache at this subleaf
        const uint32_t level = (e.eax >> 5) & 0x7;
        // L1/L2 belong to one core (one thread); L3 is shared by the package.
        e.eax = set_field(e.eax, 14, 12, level >= 3 ? count - 1 : 0);
        if (e.function == kLeafCacheParams) e.eax = set_field(e.eax, 26, 6, count - 1);  // cores per package
        break;
      }
      case kLeafAmdSizes:
        e.ecx = set_field(e.ecx, 0, 8, count - 1);        // cores per package - 1
        e.ecx = set_field(e.ecx, 12, 4, id_bits(count));  // APIC id bits for the core
        break;
      case kLeafAmdExtApicId:
        e.eax = index;
        e.ebx = set_field(set_field(e.ebx, 0, 8, index), 8, 8, 0);  // core id; one thread per core
        e.ecx = set_field(e.ecx, 0, 11, 0);                         // node 0 of 1
        break;
      default: break;
    }
  }
  for (uint32_t leaf : {kLeafTopology, kLeafTopologyV2}) {
    const bool present = std::any_of(t.begin(), t.end(), [&](const auto& e) { return e.function == leaf; });
    if (!present) continue;
    std::erase_if(t, [&](const auto& e) { return e.function == leaf; });
    for (uint32_t sub = 0; sub < 3; ++sub) t.push_back(topology_entry(leaf, sub, index, count));
  }
}

// Leaf 0 EBX of "GenuineIntel": Linux reads leaf 0x15 only on Intel.
constexpr uint32_t kVendorIntelEbx = 0x756e6547;  // "Genu"
constexpr uint32_t kLeafTscCrystal = 0x15;

void apply_tsc_frequency(std::vector<kvm_cpuid_entry2>& t, uint32_t tsc_khz) {
  const auto* vendor = find(t, 0, 0);
  auto* leaf = find(t, kLeafTscCrystal, 0);
  const auto encoded = tsc_leaf(tsc_khz);
  if (!vendor || vendor->ebx != kVendorIntelEbx || vendor->eax < kLeafTscCrystal || !leaf || !encoded) return;
  leaf->eax = encoded->denominator;
  leaf->ebx = encoded->numerator;
  leaf->ecx = encoded->crystal_hz;
  leaf->edx = 0;
}

}  // namespace

std::span<const CpuModel> cpu_models() { return kModels; }

std::optional<CpuModel> cpu_model_by_name(std::string_view name) {
  for (const auto& m : kModels)
    if (m.name == name) return m;
  return std::nullopt;
}

std::string cpu_model_names() {
  std::string out;
  for (const auto& m : kModels) {
    if (!out.empty()) out += ", ";
    out += m.name;
  }
  return out;
}

std::span<const CpuidFeature> baseline_masked_features() { return kBaselineMasked; }
std::span<const uint32_t> baseline_removed_leaves() { return kBaselineRemoved; }

std::optional<TscLeaf> tsc_leaf(uint32_t tsc_khz) {
  if (tsc_khz == 0) return std::nullopt;
  constexpr uint64_t kCrystalKhz = kCrystalHz / 1000;
  constexpr uint64_t kMaxNumerator = 0xffffffffull / kCrystalKhz;
  TscLeaf best{0, 0, kCrystalHz};
  uint64_t best_error = UINT64_MAX;
  // A small search (the numerator stops at 4294): try each denominator.
  constexpr uint64_t kMaxDenominator = 1'000'000;
  for (uint64_t q = 1; q <= kMaxDenominator; ++q) {
    const uint64_t p = (uint64_t{tsc_khz} * q + kCrystalKhz / 2) / kCrystalKhz;
    if (p > kMaxNumerator) break;
    if (p == 0) continue;
    const uint64_t khz = kCrystalKhz * p / q;  // as Linux computes it
    const uint64_t error = khz > tsc_khz ? khz - tsc_khz : tsc_khz - khz;
    if (error < best_error) {
      best = {static_cast<uint32_t>(q), static_cast<uint32_t>(p), kCrystalHz};
      best_error = error;
      if (error == 0) break;
    }
  }
  // KVM's figure is itself in whole kHz; a worse fit would make the guest's
  // clock drift, and it is better off calibrating.
  if (best.numerator == 0 || best_error > 1) return std::nullopt;
  return best;
}

std::vector<kvm_cpuid_entry2> vcpu_cpuid(const CpuModel& model, std::span<const kvm_cpuid_entry2> supported,
                                         uint32_t vcpu_index, uint32_t vcpu_count, uint32_t tsc_khz) {
  if (vcpu_count == 0 || vcpu_index >= vcpu_count)
    throw std::invalid_argument("vCPU index " + std::to_string(vcpu_index) + " out of range for " +
                                std::to_string(vcpu_count) + " vCPUs");
  std::vector<kvm_cpuid_entry2> t(supported.begin(), supported.end());
  if (model.id == CpuModelId::kBaseline) apply_baseline(t);
  apply_topology(t, vcpu_index, vcpu_count);
  apply_tsc_frequency(t, tsc_khz);
  std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) {
    return a.function != b.function ? a.function < b.function : a.index < b.index;
  });
  return t;
}

}  // namespace wren
