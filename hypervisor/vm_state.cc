#include "hypervisor/vm_state.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace wren {

namespace {

void must(int rc, const char* what) {
  if (rc < 0) throw KvmError(what, errno);
}

kvm_irqchip get_chip(const Vm& vm, uint32_t id) {
  kvm_irqchip chip{};
  chip.chip_id = id;
  must(vm.ioctl(KVM_GET_IRQCHIP, &chip), "KVM_GET_IRQCHIP");
  return chip;
}

void set_chip(Vm& vm, const kvm_irqchip& chip) {
  must(vm.ioctl(KVM_SET_IRQCHIP, const_cast<kvm_irqchip*>(&chip)), "KVM_SET_IRQCHIP");
}

template <typename T>
bool same_bytes(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

constexpr uint32_t kKnownPitFlags = KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON;

}  // namespace

bool operator==(const VmState& a, const VmState& b) {
  return same_bytes(a.pic_master, b.pic_master) && same_bytes(a.pic_slave, b.pic_slave) &&
         same_bytes(a.ioapic, b.ioapic) && a.has_pit == b.has_pit && (!a.has_pit || same_bytes(a.pit, b.pit)) &&
         a.clock_ns == b.clock_ns && a.clock_flags == b.clock_flags;
}

VmState capture_vm_state(const Vm& vm, bool with_pit) {
  VmState s;
  s.pic_master = get_chip(vm, KVM_IRQCHIP_PIC_MASTER).chip.pic;
  s.pic_slave = get_chip(vm, KVM_IRQCHIP_PIC_SLAVE).chip.pic;
  s.ioapic = get_chip(vm, KVM_IRQCHIP_IOAPIC).chip.ioapic;
  if (with_pit) {
    must(vm.ioctl(KVM_GET_PIT2, &s.pit), "KVM_GET_PIT2");
    s.has_pit = true;
  }
  kvm_clock_data clock{};
  must(vm.ioctl(KVM_GET_CLOCK, &clock), "KVM_GET_CLOCK");
  s.clock_ns = clock.clock;
  s.clock_flags = clock.flags;
  return s;
}

std::optional<std::string> check_vm_state(const VmState& s) {
  if (s.has_pit) {
    if (s.pit.flags & ~kKnownPitFlags) return "PIT flags with unknown bits";
    for (const auto& ch : s.pit.channels) {
      // A 16-bit counter reloads with 1..65536; a 3-bit mode, or 0xff for a
      // channel never programmed; access states as KVM keeps them.
      if (ch.count > 0x10000) return "PIT channel count out of range";
      if (ch.mode > 7 && ch.mode != 0xff) return "PIT channel mode out of range";
      if (ch.rw_mode > 3 || ch.read_state > 4 || ch.write_state > 4) return "PIT channel access state out of range";
    }
  }
  for (const auto* pic : {&s.pic_master, &s.pic_slave})
    if (pic->priority_add > 7 || pic->read_reg_select > 1 || pic->init_state > 3) return "PIC state out of range";
  if (s.ioapic.base_address != 0xfec00000) return "IOAPIC not at 0xfec00000";
  return std::nullopt;
}

void restore_vm_state(Vm& vm, const VmState& s) {
  if (auto problem = check_vm_state(s)) throw std::invalid_argument("VM state: " + *problem);
  if (s.has_pit) must(vm.ioctl(KVM_SET_PIT2, const_cast<kvm_pit_state2*>(&s.pit)), "KVM_SET_PIT2");
  kvm_irqchip chip{};
  chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
  chip.chip.pic = s.pic_master;
  set_chip(vm, chip);
  chip = {};
  chip.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  chip.chip.pic = s.pic_slave;
  set_chip(vm, chip);
  chip = {};
  chip.chip_id = KVM_IRQCHIP_IOAPIC;
  chip.chip.ioapic = s.ioapic;
  set_chip(vm, chip);
  kvm_clock_data clock{};
  clock.clock = s.clock_ns;
  must(vm.ioctl(KVM_SET_CLOCK, &clock), "KVM_SET_CLOCK");
}

}  // namespace wren
