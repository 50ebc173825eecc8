// VmState capture and restore against the real /dev/kvm: irqchip, PIT and
// clock state of one VM come back out of a fresh VM.
#include "hypervisor/vm_state.h"

#include <gtest/gtest.h>

#include <cstring>

namespace wren {
namespace {

struct Machine {
  explicit Machine(const Kvm& kvm) : vm(kvm.create_vm()) {
    vm.set_tss_addr(0xfffbd000);
    vm.create_irqchip();
    vm.create_pit2();
  }
  Vm vm;
};

TEST(RealKvmVmState, CaptureRestoreIntoFreshVm) {
  Kvm kvm;
  Machine a(kvm);
  a.vm.set_irq_line(4, true);  // raises IRR bits in PIC and IOAPIC
  kvm_irqchip chip{};
  chip.chip_id = KVM_IRQCHIP_IOAPIC;
  ASSERT_EQ(a.vm.ioctl(KVM_GET_IRQCHIP, &chip), 0);
  chip.chip.ioapic.redirtbl[4].fields.vector = 0x34;
  ASSERT_EQ(a.vm.ioctl(KVM_SET_IRQCHIP, &chip), 0);

  const VmState saved = capture_vm_state(a.vm);
  EXPECT_TRUE(saved.has_pit);
  EXPECT_EQ(saved.ioapic.redirtbl[4].fields.vector, 0x34);
  EXPECT_EQ(check_vm_state(saved), std::nullopt);

  Machine b(kvm);
  restore_vm_state(b.vm, saved);
  VmState restored = capture_vm_state(b.vm);
  EXPECT_EQ(restored.ioapic.redirtbl[4].fields.vector, 0x34);
  EXPECT_EQ(std::memcmp(&restored.pic_master, &saved.pic_master, sizeof saved.pic_master), 0);
  EXPECT_EQ(std::memcmp(&restored.ioapic, &saved.ioapic, sizeof saved.ioapic), 0);
  // The clock continues from the saved value (it does not go back).
  EXPECT_GE(restored.clock_ns, saved.clock_ns);
  EXPECT_LT(restored.clock_ns - saved.clock_ns, 5'000'000'000u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(restored.pit.channels[i].mode, saved.pit.channels[i].mode);
}

TEST(RealKvmVmState, ChecksRefuseMalformedState) {
  Kvm kvm;
  Machine m(kvm);
  const VmState good = capture_vm_state(m.vm);
  auto refused = [&](auto mutate) {
    VmState s = good;
    mutate(s);
    EXPECT_NE(check_vm_state(s), std::nullopt);
    EXPECT_THROW(restore_vm_state(m.vm, s), std::invalid_argument);
  };
  refused([](VmState& s) { s.pit.flags = 0x100; });
  refused([](VmState& s) { s.pit.channels[1].count = 0x10001; });
  refused([](VmState& s) { s.pit.channels[0].mode = 8; });
  refused([](VmState& s) { s.pic_slave.priority_add = 9; });
  refused([](VmState& s) { s.ioapic.base_address = 0x1000; });
}

}  // namespace
}  // namespace wren
