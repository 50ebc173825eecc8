// VcpuState capture and restore against the real /dev/kvm: state written
// into one VM's vCPU comes back out of a fresh VM's vCPU.
#include "hypervisor/vcpu_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "unit/hypervisor/vcpu_state_clocks.h"

namespace wren {
namespace {

constexpr uint32_t kMsrSysenterCs = 0x174;
constexpr uint32_t kMsrSysenterEsp = 0x175;

struct Machine {
  explicit Machine(const Kvm& kvm) : vm(kvm.create_vm()) {
    vm.set_tss_addr(0xfffbd000);
    vm.create_irqchip();
    vm.create_pit2();
    vcpu.emplace(vm.create_vcpu(0));
    vcpu->set_cpuid(kvm.supported_cpuid());
  }
  Vm vm;
  std::optional<Vcpu> vcpu;
};

std::optional<uint64_t> msr(const VcpuState& s, uint32_t index) {
  for (const auto& m : s.msrs)
    if (m.index == index) return m.data;
  return std::nullopt;
}

class RealKvmVcpuState : public ::testing::Test {
 protected:
  Kvm kvm;
};

TEST_F(RealKvmVcpuState, SaveableMsrsAreReadableAndFromTheIndexList) {
  Machine m(kvm);
  const auto list = kvm.msr_index_list();
  const auto saveable = saveable_msr_indices(*m.vcpu, kvm);
  ASSERT_FALSE(saveable.empty());
  for (uint32_t index : saveable) EXPECT_NE(std::find(list.begin(), list.end(), index), list.end());
  EXPECT_EQ(m.vcpu->get_msrs(saveable).size(), saveable.size());
}

TEST_F(RealKvmVcpuState, CaptureRestoreIntoFreshVcpu) {
  Machine a(kvm);
  kvm_regs regs = a.vcpu->get_regs();
  regs.rax = 0x1122334455667788;
  regs.r15 = 0xdeadbeef;
  regs.rip = 0x1000;
  regs.rflags = 0x202;
  a.vcpu->set_regs(regs);
  kvm_sregs sregs = a.vcpu->get_sregs();
  sregs.cs.base = 0x10000;
  sregs.cs.selector = 0x1000;
  sregs.cr2 = 0xabc000;
  a.vcpu->set_sregs(sregs);
  a.vcpu->set_msrs({{kMsrSysenterCs, 0, 0x10}, {kMsrSysenterEsp, 0, 0x7000}});

  const VcpuState saved = capture_vcpu_state(*a.vcpu, kvm);
  EXPECT_EQ(saved.regs.rax, 0x1122334455667788u);
  EXPECT_EQ(saved.sregs.cr2, 0xabc000u);
  EXPECT_EQ(msr(saved, kMsrSysenterEsp), 0x7000u);
  EXPECT_FALSE(saved.cpuid.empty());
  if (kvm.check_extension(KVM_CAP_XSAVE) > 0) {
    EXPECT_GE(saved.xsave.size(), VcpuState::kXsaveLegacyWords);
  }
  EXPECT_EQ(check_vcpu_state(saved, kvm), std::nullopt);

  Machine b(kvm);
  restore_vcpu_state(*b.vcpu, kvm, saved);
  const VcpuState restored = capture_vcpu_state(*b.vcpu, kvm);
  EXPECT_EQ(restored.regs.rax, 0x1122334455667788u);
  EXPECT_EQ(restored.regs.rip, 0x1000u);
  EXPECT_EQ(restored.sregs.cs.base, 0x10000u);
  EXPECT_EQ(msr(restored, kMsrSysenterCs), 0x10u);
  EXPECT_EQ(first_difference(without_clocks(restored), without_clocks(saved)), std::nullopt);
}

TEST_F(RealKvmVcpuState, ChecksRefuseMalformedState) {
  Machine m(kvm);
  const VcpuState good = capture_vcpu_state(*m.vcpu, kvm);
  auto refused = [&](auto mutate) {
    VcpuState s = good;
    mutate(s);
    EXPECT_NE(check_vcpu_state(s, kvm), std::nullopt);
    EXPECT_THROW(restore_vcpu_state(*m.vcpu, kvm, s), std::invalid_argument);
  };
  refused([](VcpuState& s) { s.debugregs.flags = 1; });
  refused([](VcpuState& s) { s.events.flags |= 0x80000000u; });
  refused([](VcpuState& s) { s.mp_state.mp_state = 77; });
  refused([](VcpuState& s) { s.msrs.push_back(s.msrs.front()); });
  refused([](VcpuState& s) { s.xcrs.resize(KVM_MAX_XCRS + 1); });
  if (kvm.check_extension(KVM_CAP_XSAVE) > 0) refused([](VcpuState& s) { s.xsave.resize(s.xsave.size() + 1); });
}

TEST_F(RealKvmVcpuState, KvmRefusalThrowsKvmError) {
  Machine m(kvm);
  VcpuState s = capture_vcpu_state(*m.vcpu, kvm);
  s.msrs.push_back({0xdeadbeef, 1});  // not an MSR
  EXPECT_THROW(restore_vcpu_state(*m.vcpu, kvm, s), KvmError);
}

}  // namespace
}  // namespace wren
