// Talks to the real /dev/kvm (present on every Wren development and CI host).
#include "hypervisor/kvm.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace wren {
namespace {

TEST(RealKvm, VariableLengthIoctlsUseTheKernelsLayout) {
  Kvm kvm;
  auto cpuid = kvm.supported_cpuid();
  ASSERT_FALSE(cpuid.empty());
  EXPECT_TRUE(std::any_of(cpuid.begin(), cpuid.end(), [](const auto& e) { return e.function == 0; }));
  auto msrs = kvm.msr_index_list();
  ASSERT_FALSE(msrs.empty());
  constexpr uint32_t kIa32Tsc = 0x10;
  EXPECT_NE(std::find(msrs.begin(), msrs.end(), kIa32Tsc), msrs.end());

  Vm vm = kvm.create_vm();
  Vcpu vcpu = vm.create_vcpu(0);
  vcpu.set_cpuid(cpuid);
  constexpr uint32_t kSysenterCs = 0x174;
  vcpu.set_msrs({kvm_msr_entry{kSysenterCs, 0, 0x10}});
  auto back = vcpu.get_msrs({kSysenterCs});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].data, 0x10u);
}

TEST(Kvm, MissingDeviceGivesAReadableError) {
  try {
    Kvm kvm("/nonexistent/kvm");
    FAIL() << "expected KvmError";
  } catch (const KvmError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
}

}  // namespace
}  // namespace wren
