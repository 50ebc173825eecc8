// KVM dirty logging on the real /dev/kvm: a real-mode guest writes one byte,
// and that page shows up dirty, once.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/kvm.h"

namespace wren {
namespace {

constexpr uint64_t kCodeGpa = 0x1000;
constexpr uint64_t kTargetPage = 0x5;  // the guest writes to 0x5000

// mov byte [0x5000], 0x2a ; hlt
constexpr std::array<uint8_t, 6> kWriteAndHalt = {0xc6, 0x06, 0x00, 0x50, 0x2a, 0xf4};

void run_until_halt(Vcpu& vcpu) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(vcpu.run(), 0);
    if (vcpu.run_data()->exit_reason == KVM_EXIT_HLT) return;
  }
  FAIL() << "guest never halted";
}

std::vector<uint64_t> dirty_pages(Vm& vm, bool manual, uint64_t pages) {
  std::vector<uint64_t> bitmap((pages + 63) / 64);
  vm.get_dirty_log(0, bitmap);
  if (manual) vm.clear_dirty_log(0, pages, bitmap);
  std::vector<uint64_t> out;
  for (uint64_t p = 0; p < pages; ++p)
    if (bitmap[p / 64] >> (p % 64) & 1) out.push_back(p);
  return out;
}

TEST(RealKvmDirtyLog, ReportsTheGuestWrittenPageOnce) {
  Kvm kvm;
  Vm vm = kvm.create_vm();
  const bool manual = vm.enable_manual_dirty_log_protect();
  GuestMemory memory(GuestMemory::x86_layout(2 << 20));
  const auto& ram = memory.regions().at(0);
  vm.set_user_memory_region(0, ram.gpa, ram.size, memory.host_address_for_kvm(0), true);
  ASSERT_TRUE(memory.write(kCodeGpa, kWriteAndHalt));
  const uint64_t pages = ram.size / 4096;
  dirty_pages(vm, manual, pages);  // start clean

  Vcpu vcpu = vm.create_vcpu(0);
  kvm_sregs sregs = vcpu.get_sregs();
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  sregs.ds.base = 0;
  sregs.ds.selector = 0;
  vcpu.set_sregs(sregs);
  kvm_regs regs{};
  regs.rip = kCodeGpa;
  regs.rflags = 2;
  vcpu.set_regs(regs);
  run_until_halt(vcpu);

  uint8_t written = 0;
  ASSERT_TRUE(memory.read(kTargetPage * 4096, std::span(&written, 1)));
  EXPECT_EQ(written, 0x2a);
  // KVM may report more than was written (AMD's KVM also reports the page the
  // instruction was fetched from), never less: what migration relies on is
  // that the written page is there, and that little else is.
  const std::vector<uint64_t> dirty = dirty_pages(vm, manual, pages);
  EXPECT_NE(std::find(dirty.begin(), dirty.end(), kTargetPage), dirty.end());
  for (uint64_t page : dirty) EXPECT_TRUE(page == kTargetPage || page == kCodeGpa / 4096) << "page " << page;
  EXPECT_TRUE(dirty_pages(vm, manual, pages).empty()) << "a page is reported once per write";
}

}  // namespace
}  // namespace wren
