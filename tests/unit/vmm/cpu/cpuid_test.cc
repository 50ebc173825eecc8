#include "vmm/cpu/cpuid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

namespace wren {
namespace {

kvm_cpuid_entry2 entry(uint32_t fn, uint32_t idx, uint32_t a, uint32_t b, uint32_t c, uint32_t d,
                       bool indexed = false) {
  kvm_cpuid_entry2 e{};
  e.function = fn;
  e.index = idx;
  e.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = a;
  e.ebx = b;
  e.ecx = c;
  e.edx = d;
  return e;
}

constexpr uint32_t kAll = 0xffffffff;

// Cache leaf 4 EAX: type, level, and host topology bits that must be replaced.
constexpr uint32_t cache_eax(uint32_t type, uint32_t level) {
  return type | (level << 5) | (0x3fu << 26) | (0xfffu << 14);
}

// A synthetic "KVM_GET_SUPPORTED_CPUID": an Intel-like host with
// everything set in the feature leaves.
std::vector<kvm_cpuid_entry2> host_table() {
  return {
      entry(0x0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),  // GenuineIntel
      entry(0x1, 0, 0x906ea, 0xff1f0800, kAll & ~(1u << 31), kAll),
      entry(0x4, 0, cache_eax(1, 1), 1, 2, 3, true),
      entry(0x4, 1, cache_eax(2, 1), 1, 2, 3, true),
      entry(0x4, 2, cache_eax(3, 2), 1, 2, 3, true),
      entry(0x4, 3, cache_eax(3, 3), 1, 2, 3, true),
      entry(0x4, 4, 0, 0, 0, 0, true),
      entry(0x6, 0, 0x4, 0, 0, 0),
      entry(0x7, 0, 1, kAll, kAll, kAll, true),
      entry(0x7, 1, kAll, 0, 0, 0, true),
      entry(0xa, 0, 0x07300805, 0, 0, 0x603),
      entry(0xb, 0, 1, 2, 0x100, 99, true),
      entry(0xb, 1, 4, 16, 0x201, 99, true),
      entry(0xd, 0, 0x2ff, 0x240, 2696, 0, true),
      entry(0xd, 1, 0xf, 0x240, 0x100, 0, true),
      entry(0xd, 2, 256, 576, 0, 0, true),
      entry(0xd, 5, 64, 1088, 0, 0, true),
      entry(0xd, 6, 512, 1152, 0, 0, true),
      entry(0xd, 7, 1024, 1664, 0, 0, true),
      entry(0xd, 9, 8, 2688, 0, 0, true),
      entry(0x14, 0, 1, 0xf, 7, 0, true),
      entry(0x15, 0, 0, 0, 0, 0),                                      // KVM reports the leaf, empty
      entry(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),  // KVMKVMKVM
      entry(0x40000001, 0, 0x01007afb, 0, 0, 0),
      entry(0x80000000, 0, 0x80000008, 0, 0, 0),
      entry(0x80000001, 0, 0, 0, kAll, kAll),
      entry(0x80000007, 0, 0, 0, 0, kAll),
      entry(0x80000008, 0, 0x3027, 0, 0x0000f0ff, 0),
  };
}

const kvm_cpuid_entry2* find(const std::vector<kvm_cpuid_entry2>& t, uint32_t fn, uint32_t idx = 0) {
  for (const auto& e : t)
    if (e.function == fn && e.index == idx) return &e;
  return nullptr;
}

uint32_t reg(const kvm_cpuid_entry2& e, CpuidReg r) {
  switch (r) {
    case CpuidReg::kEax: return e.eax;
    case CpuidReg::kEbx: return e.ebx;
    case CpuidReg::kEcx: return e.ecx;
    case CpuidReg::kEdx: return e.edx;
  }
  return 0;
}

const CpuModel kHost = *cpu_model_by_name("host");
const CpuModel kBaseline = *cpu_model_by_name("baseline");

TEST(CpuModels, LookupByName) {
  EXPECT_EQ(cpu_model_by_name("host")->id, CpuModelId::kHost);
  EXPECT_EQ(cpu_model_by_name("baseline")->id, CpuModelId::kBaseline);
  EXPECT_FALSE(cpu_model_by_name("Host"));
  EXPECT_FALSE(cpu_model_by_name("skylake"));
  EXPECT_FALSE(cpu_model_by_name(""));
  EXPECT_EQ(cpu_model_names(), "host, baseline");
}

TEST(Cpuid, RejectsBadVcpuIndex) {
  const auto host = host_table();
  EXPECT_THROW((void)vcpu_cpuid(kHost, host, 0, 0), std::invalid_argument);
  EXPECT_THROW((void)vcpu_cpuid(kHost, host, 2, 2), std::invalid_argument);
}

TEST(Cpuid, HostModelKeepsFeatures) {
  const auto host = host_table();
  const auto t = vcpu_cpuid(kHost, host, 0, 1);
  for (uint32_t fn : {0x7u, 0x80000001u, 0x80000007u, 0x40000000u, 0x40000001u}) {
    const auto* in = find(host, fn);
    const auto* out = find(t, fn);
    ASSERT_TRUE(out) << std::hex << fn;
    EXPECT_EQ(std::tie(in->eax, in->ebx, in->ecx, in->edx), std::tie(out->eax, out->ebx, out->ecx, out->edx));
  }
  EXPECT_TRUE(find(t, 0xa));
  EXPECT_TRUE(find(t, 0xd, 9));
  EXPECT_EQ(find(t, 0xd, 0)->eax, 0x2ffu);
  EXPECT_EQ(find(t, 0x1)->ecx, kAll);  // hypervisor bit added, nothing removed
}

TEST(Cpuid, BaselineMasksExactlyItsList) {
  const auto host = host_table();
  const auto t = vcpu_cpuid(kBaseline, host, 0, 1);
  // Expected register values: the host's minus the listed bits.
  std::map<std::tuple<uint32_t, uint32_t, CpuidReg>, uint32_t> masks;
  for (const auto& f : baseline_masked_features()) {
    ASSERT_LT(f.bit, 32u) << f.name;
    auto& m = masks[{f.leaf, f.subleaf, f.reg}];
    EXPECT_FALSE(m & (1u << f.bit)) << "duplicate " << f.name;
    m |= 1u << f.bit;
  }
  // Registers this test can compare directly (the others carry per-vCPU or
  // XSAVE-size fields tested separately).
  const std::vector<std::tuple<uint32_t, uint32_t, CpuidReg>> checked = {
      {0x1, 0, CpuidReg::kEcx},        {0x1, 0, CpuidReg::kEax},        {0x7, 0, CpuidReg::kEbx},
      {0x7, 0, CpuidReg::kEcx},        {0x7, 0, CpuidReg::kEdx},        {0x7, 1, CpuidReg::kEax},
      {0xd, 1, CpuidReg::kEax},        {0x80000001, 0, CpuidReg::kEcx}, {0x80000001, 0, CpuidReg::kEdx},
      {0x80000007, 0, CpuidReg::kEdx},
  };
  for (const auto& [leaf, sub, r] : checked) {
    const auto* in = find(host, leaf, sub);
    const auto* out = find(t, leaf, sub);
    ASSERT_TRUE(in && out) << std::hex << leaf;
    uint32_t expected = reg(*in, r) & ~masks[{leaf, sub, r}];
    if (leaf == 0x1 && r == CpuidReg::kEcx) expected |= 1u << 31;  // hypervisor
    EXPECT_EQ(reg(*out, r), expected) << std::hex << "leaf " << leaf << "." << sub << " reg " << int(r);
  }
  // Every masked (leaf, subleaf, reg) is among the compared ones, so the
  // list is tested in full.
  for (const auto& [key, m] : masks) {
    (void)m;
    EXPECT_NE(std::find(checked.begin(), checked.end(), key), checked.end())
        << std::hex << std::get<0>(key) << "." << std::get<1>(key);
  }
  // Spot checks of well-known bits.
  EXPECT_FALSE(find(t, 0x7)->ebx & (1u << 16));  // avx512f
  EXPECT_FALSE(find(t, 0x7)->ebx & (1u << 11));  // rtm
  EXPECT_FALSE(find(t, 0x7)->ecx & (1u << 3));   // pku
  EXPECT_TRUE(find(t, 0x7)->ebx & (1u << 5));    // avx2 stays
  EXPECT_TRUE(find(t, 0x7)->edx & (1u << 26));   // IBRS/IBPB stays
}

TEST(Cpuid, BaselineDropsHostSpecificLeaves) {
  const auto host = host_table();
  const auto t = vcpu_cpuid(kBaseline, host, 0, 1);
  EXPECT_FALSE(find(t, 0xa));   // PMU
  EXPECT_FALSE(find(t, 0x14));  // Intel PT
  for (uint32_t leaf : baseline_removed_leaves())
    for (const auto& e : t) EXPECT_NE(e.function, leaf);
  EXPECT_TRUE(find(t, 0x40000000));  // KVM's signature stays as KVM gives it
  EXPECT_EQ(find(t, 0x40000000)->ebx, 0x4b4d564bu);
}

TEST(Cpuid, BaselineLimitsXsaveToX87SseAvx) {
  const auto t = vcpu_cpuid(kBaseline, host_table(), 0, 1);
  const auto* d0 = find(t, 0xd, 0);
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->eax, 0x7u);
  EXPECT_EQ(d0->edx, 0u);
  EXPECT_EQ(d0->ecx, 576u + 256u);  // legacy area + header + AVX state
  const auto* d1 = find(t, 0xd, 1);
  ASSERT_TRUE(d1);
  EXPECT_EQ(d1->eax, 0x7u);  // xsaveopt, xsavec, xgetbv1 stay; xsaves gone
  EXPECT_EQ(d1->ecx, 0u);    // no supervisor components
  EXPECT_TRUE(find(t, 0xd, 2));
  for (uint32_t sub : {5u, 6u, 7u, 9u}) EXPECT_FALSE(find(t, 0xd, sub)) << sub;
}

TEST(Cpuid, ApicIdsAndTopologyPerVcpu) {
  const auto host = host_table();
  for (uint32_t count : {1u, 2u, 6u, 8u}) {
    for (uint32_t i = 0; i < count; ++i) {
      for (const CpuModel& model : {kHost, kBaseline}) {
        const auto t = vcpu_cpuid(model, host, i, count);
        const auto* l1 = find(t, 0x1);
        ASSERT_TRUE(l1);
        EXPECT_EQ(l1->ebx >> 24, i);
        EXPECT_EQ((l1->ebx >> 16) & 0xff, count);
        EXPECT_EQ(l1->ebx & 0xffff, 0x0800u);              // CLFLUSH size kept
        EXPECT_EQ(bool(l1->edx & (1u << 28)), count > 1);  // HTT
        EXPECT_TRUE(l1->ecx & (1u << 31));                 // hypervisor

        const uint32_t shift = count == 1 ? 0 : count == 2 ? 1 : 3;
        const auto* smt = find(t, 0xb, 0);
        const auto* core = find(t, 0xb, 1);
        const auto* end = find(t, 0xb, 2);
        ASSERT_TRUE(smt && core && end);
        EXPECT_EQ(std::tie(smt->eax, smt->ebx, smt->ecx, smt->edx), std::make_tuple(0u, 1u, 0x100u, i));
        EXPECT_EQ(std::tie(core->eax, core->ebx, core->ecx, core->edx), std::make_tuple(shift, count, 0x201u, i));
        EXPECT_EQ(end->ebx, 0u);
        EXPECT_EQ(end->ecx & 0xff00, 0u);  // level type 0 ends the list
        EXPECT_EQ(end->edx, i);
        for (const auto* e : {smt, core, end}) EXPECT_TRUE(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
      }
    }
  }
}

TEST(Cpuid, CacheLeafSharing) {
  const auto host = host_table();
  const auto t = vcpu_cpuid(kHost, host, 3, 4);
  for (uint32_t sub = 0; sub < 4; ++sub) {
    const auto* e = find(t, 0x4, sub);
    ASSERT_TRUE(e);
    const uint32_t level = (e->eax >> 5) & 7;
    EXPECT_EQ(e->eax >> 26, 3u) << sub;                                     // 4 cores per package
    EXPECT_EQ((e->eax >> 14) & 0xfff, level == 3 ? 3u : 0u) << sub;         // L3 shared by all, L1/L2 private
    EXPECT_EQ(e->eax & 0x3fff, find(host, 0x4, sub)->eax & 0x3fff) << sub;  // type, level, flags kept
    EXPECT_EQ(std::tie(e->ebx, e->ecx, e->edx), std::make_tuple(1u, 2u, 3u));
  }
  EXPECT_EQ(find(t, 0x4, 4)->eax, 0u);  // the terminating subleaf stays empty
}

TEST(Cpuid, AmdCoreCount) {
  const auto t = vcpu_cpuid(kHost, host_table(), 0, 8);
  const auto* e = find(t, 0x80000008);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ecx & 0xff, 7u);
  EXPECT_EQ((e->ecx >> 12) & 0xf, 3u);
  EXPECT_EQ(e->eax, 0x3027u);
}

TEST(Cpuid, NeverInventsLeaves) {
  std::vector<kvm_cpuid_entry2> minimal = {
      entry(0x0, 0, 0x1, 0x756e6547, 0x6c65746e, 0x49656e69),
      entry(0x1, 0, 0x906ea, 0, 0, 0),
  };
  for (const CpuModel& model : {kHost, kBaseline}) {
    const auto t = vcpu_cpuid(model, minimal, 1, 4);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].function, 0u);
    EXPECT_EQ(t[1].function, 1u);
  }
  // And in general the output's leaves are a subset of the host's.
  const auto host = host_table();
  std::set<uint32_t> host_leaves;
  for (const auto& e : host) host_leaves.insert(e.function);
  for (const CpuModel& model : {kHost, kBaseline})
    for (const auto& e : vcpu_cpuid(model, host, 0, 2)) EXPECT_TRUE(host_leaves.count(e.function)) << e.function;
}

TEST(Cpuid, VendorUnchanged) {
  const auto t = vcpu_cpuid(kBaseline, host_table(), 0, 1);
  const auto* l0 = find(t, 0x0);
  ASSERT_TRUE(l0);
  EXPECT_EQ(std::tie(l0->eax, l0->ebx, l0->ecx, l0->edx),
            std::make_tuple(0x1fu, 0x756e6547u, 0x6c65746eu, 0x49656e69u));
}

// What Linux's native_calibrate_tsc() makes of leaf 0x15, in its 32-bit
// arithmetic: the TSC kHz and the APIC timer period per tick (HZ = 100).
struct LinuxView {
  uint32_t tsc_khz;
  uint32_t lapic_timer_period;
};
LinuxView linux_reads(const TscLeaf& l) {
  const uint32_t crystal_khz = l.crystal_hz / 1000;
  return {crystal_khz * l.numerator / l.denominator, crystal_khz * 1000 / 100};
}

TEST(Cpuid, TscLeafGivesLinuxTheExactRateWhereItCan) {
  for (uint32_t khz : {2600000u, 3000000u, 1000000u, 2100000u}) {
    const auto l = tsc_leaf(khz);
    ASSERT_TRUE(l) << khz;
    EXPECT_EQ(linux_reads(*l).tsc_khz, khz);
    EXPECT_LE(uint64_t{l->crystal_hz / 1000} * l->numerator, 0xffffffffull) << "overflows Linux's multiply";
  }
  EXPECT_EQ(tsc_leaf(2600000)->numerator, 13u);  // 2.6 GHz / 1 GHz = 13 / 5
  EXPECT_EQ(tsc_leaf(2600000)->denominator, 5u);
}

TEST(Cpuid, TscLeafIsWithinAKilohertzOrAbsent) {
  // Calibrated rates are arbitrary kHz values; the 32-bit product bounds the
  // numerator, so most are approximated, to KVM's own 1 kHz resolution.
  for (uint32_t khz : {2596120u, 3417999u, 1795321u, 4199999u, 800123u, 2593906u}) {
    const auto l = tsc_leaf(khz);
    ASSERT_TRUE(l) << khz;
    EXPECT_LE(std::abs(int64_t{linux_reads(*l).tsc_khz} - khz), 1) << khz;
    EXPECT_LE(uint64_t{l->crystal_hz / 1000} * l->numerator, 0xffffffffull);
  }
  // The best fit for 2599974 kHz is 13/5, 26 kHz (10 ppm) off: no leaf, the
  // guest calibrates.
  EXPECT_FALSE(tsc_leaf(2599974));
  EXPECT_FALSE(tsc_leaf(0));
}

TEST(Cpuid, CrystalIsKvmsApicTimerClock) {
  // Linux sets its APIC timer period from the crystal: KVM's APIC timer
  // counts at 1 GHz, 10,000,000 counts per 10 ms tick.
  EXPECT_EQ(linux_reads(*tsc_leaf(2600000)).lapic_timer_period, 10'000'000u);
}

TEST(Cpuid, TscLeafFilledOnlyWhenTheRateIsKnownOnIntel) {
  const auto host = host_table();
  const auto with_rate = vcpu_cpuid(kHost, host, 0, 1, 2600000);
  const auto* known = find(with_rate, 0x15);
  ASSERT_TRUE(known);
  EXPECT_EQ(std::tie(known->eax, known->ebx, known->ecx, known->edx), std::make_tuple(5u, 13u, kCrystalHz, 0u));
  const auto baseline = vcpu_cpuid(kBaseline, host, 0, 1, 2600000);
  EXPECT_EQ(find(baseline, 0x15)->ebx, 13u);

  const auto without_rate = vcpu_cpuid(kHost, host, 0, 1, 0);
  const auto* unknown = find(without_rate, 0x15);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(std::tie(unknown->eax, unknown->ebx, unknown->ecx), std::make_tuple(0u, 0u, 0u));

  auto amd = host;
  amd[0].ebx = 0x68747541;  // "Auth"enticAMD: Linux ignores the leaf there
  EXPECT_EQ(find(vcpu_cpuid(kHost, amd, 0, 1, 2600000), 0x15)->ebx, 0u);
  auto low_max_leaf = host;
  low_max_leaf[0].eax = 0xd;  // the guest could not see leaf 0x15
  EXPECT_EQ(find(vcpu_cpuid(kHost, low_max_leaf, 0, 1, 2600000), 0x15)->ebx, 0u);
  auto without = host;
  std::erase_if(without, [](const auto& e) { return e.function == 0x15; });
  EXPECT_FALSE(find(vcpu_cpuid(kHost, without, 0, 1, 2600000), 0x15));  // never invented
}

}  // namespace
}  // namespace wren
