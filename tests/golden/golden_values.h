#pragma once
// The fixed, hand-built State values behind the golden payload files in this
// directory, and the list of files (one per payload kind and version).
//
// These values are part of the format's history: never change one (a file
// written by an old Wren must keep decoding to it). A new version of a kind
// adds a new case; a new kind adds its cases. The migrate unit tests decode
// every file and compare; WREN_REGENERATE_GOLDEN=1 writes missing files (see
// README.md).
#include <cstring>
#include <string>
#include <vector>

#include "migrate/kinds.h"

namespace wren::golden {

inline migrate::GuestMemoryLayout layout() { return {{{0, 0xc0000000}, {0x100000000, 0x40000000}}}; }

inline VcpuState vcpu() {
  VcpuState s;
  kvm_cpuid_entry2 leaf0{};
  leaf0.function = 0;
  leaf0.eax = 0xd;
  leaf0.ebx = 0x756e6547;
  leaf0.ecx = 0x6c65746e;
  leaf0.edx = 0x49656e69;
  kvm_cpuid_entry2 leaf7{};
  leaf7.function = 7;
  leaf7.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  leaf7.ebx = 0x219c07ab;
  s.cpuid = {leaf0, leaf7};
  s.regs.rax = 0x1111;
  s.regs.rbx = 0x2222;
  s.regs.rsp = 0xffffc90000003f00;
  s.regs.r15 = 0xf15;
  s.regs.rip = 0xffffffff81000000;
  s.regs.rflags = 0x246;
  kvm_segment code{};
  code.base = 0;
  code.limit = 0xffffffff;
  code.selector = 0x10;
  code.type = 11;
  code.present = 1;
  code.s = 1;
  code.l = 1;
  code.g = 1;
  s.sregs.cs = code;
  kvm_segment data = code;
  data.selector = 0x18;
  data.type = 3;
  data.l = 0;
  data.db = 1;
  s.sregs.ds = s.sregs.es = s.sregs.ss = data;
  s.sregs.fs.base = 0x7f0000001000;
  s.sregs.gs.base = 0xffff888007c00000;
  s.sregs.tr.selector = 0x40;
  s.sregs.tr.type = 11;
  s.sregs.tr.present = 1;
  s.sregs.ldt.unusable = 1;
  s.sregs.gdt = {0xfffffe0000001000, 0x7f, {}};
  s.sregs.idt = {0xfffffe0000000000, 0xfff, {}};
  s.sregs.cr0 = 0x80050033;
  s.sregs.cr2 = 0x7f00deadb000;
  s.sregs.cr3 = 0x2a0c000;
  s.sregs.cr4 = 0x3406f0;
  s.sregs.efer = 0xd01;
  s.sregs.apic_base = 0xfee00900;
  s.sregs.interrupt_bitmap[0] = 1ull << 32;
  s.xsave.resize(VcpuState::kXsaveLegacyWords);
  for (size_t i = 0; i < s.xsave.size(); ++i) s.xsave[i] = static_cast<uint32_t>(i * 0x01010101u);
  s.fpu.fcw = 0x37f;
  s.fpu.mxcsr = 0x1f80;
  s.fpu.xmm[3][7] = 0x42;
  kvm_xcr xcr0{};
  xcr0.xcr = 0;
  xcr0.value = 7;
  s.xcrs = {xcr0};
  s.debugregs.dr6 = 0xffff0ff0;
  s.debugregs.dr7 = 0x400;
  s.debugregs.db[2] = 0x401000;
  for (size_t i = 0; i < sizeof s.lapic.regs; ++i) s.lapic.regs[i] = static_cast<char>(i % 251);
  s.msrs = {{0x10, 0x123456789}, {0x174, 0x10}, {0xc0000080, 0xd01}, {0xc0000100, 0x7f0000001000}};
  s.events.exception.injected = 1;
  s.events.exception.nr = 14;
  s.events.exception.has_error_code = 1;
  s.events.exception.error_code = 2;
  s.events.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
  s.events.nmi.masked = 1;
  s.events.sipi_vector = 0x9a;
  s.events.flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
  s.events.exception_payload = 0xdead000;
  s.mp_state.mp_state = KVM_MP_STATE_HALTED;
  s.tsc_khz = 2596120;
  return s;
}

inline VmState vm() {
  VmState s;
  s.pic_master.irr = 0x01;
  s.pic_master.imr = 0xb8;
  s.pic_master.irq_base = 0x30;
  s.pic_master.init4 = 1;
  s.pic_master.elcr_mask = 0xf8;
  s.pic_slave.imr = 0xff;
  s.pic_slave.irq_base = 0x38;
  s.pic_slave.elcr = 0x0c;
  s.pic_slave.elcr_mask = 0xde;
  s.ioapic.base_address = 0xfec00000;
  s.ioapic.id = 0;
  s.ioapic.ioregsel = 0x10;
  s.ioapic.irr = 1u << 4;
  for (int i = 0; i < KVM_IOAPIC_NUM_PINS; ++i) s.ioapic.redirtbl[i].bits = 0x10000 | static_cast<uint64_t>(0x20 + i);
  s.ioapic.redirtbl[4].bits = 0x0100000000000034;
  s.has_pit = true;
  for (int i = 0; i < 3; ++i) {
    auto& c = s.pit.channels[i];
    c.count = 0x10000;
    c.mode = 0xff;
    c.gate = i < 2;
  }
  s.pit.channels[0].count = 1193;
  s.pit.channels[0].mode = 2;
  s.pit.channels[0].rw_mode = 3;
  s.pit.channels[0].read_state = 3;
  s.pit.channels[0].write_state = 3;
  s.pit.channels[0].count_load_time = 123456789012;
  s.pit.flags = 0;
  s.clock_ns = 987654321000;
  s.clock_flags = KVM_CLOCK_TSC_STABLE;
  return s;
}

inline Uart16550::State uart() {
  Uart16550::State s;
  s.ier = 0x05;
  s.lcr = 0x03;
  s.mcr = 0x0b;
  s.fcr = 0xc1;
  s.scr = 0x5a;
  s.dll = 0x01;
  s.msr_deltas = 0x1;
  s.thr_interrupt_pending = true;
  s.rx_fifo = {'w', 'r', 'e', 'n', '\n'};
  return s;
}

inline I8042::State i8042() {
  I8042::State s;
  s.control = 0x47;
  s.output_port = 0x03;
  s.pending_command = 0x60;
  s.output_full = true;
  s.output_from_aux = false;
  s.output = 0xfa;
  return s;
}

inline CmosRtc::State cmos() {
  CmosRtc::State s;
  for (size_t i = 0; i < s.bytes.size(); ++i) s.bytes[i] = static_cast<uint8_t>(i * 3);
  s.bytes[0x0a] = 0x26;
  s.bytes[0x0b] = 0x02;
  s.bytes[0x0c] = 0x00;
  s.bytes[0x0d] = 0x80;
  s.index = 0x0b;
  s.nmi_masked = true;
  s.clock_offset_seconds = -3600;
  return s;
}

inline AcpiPm::State acpi_pm() {
  AcpiPm::State s;
  s.pm1_status = 0x0100;
  s.pm1_enable = 0x0100;
  s.pm1_control = 0x0000;
  s.timer = 0x123456;
  return s;
}

inline Hpet::State hpet() {
  Hpet::State s;
  s.config = Hpet::kEnable | Hpet::kLegacyRoute;
  s.isr = 0b10;
  s.counter = 0x0000001234567890;
  s.timers[0] = {Hpet::kInterruptEnable | Hpet::kPeriodic | Hpet::kMode32, 0x12345000, 0x186a0, true};
  s.timers[1] = {Hpet::kInterruptEnable | Hpet::kLevelTriggered, 0x0000001234560000, 0, false};
  s.timers[2] = {Hpet::kValueSet | (20u << Hpet::kRouteShift), 0xffffffffffffffff, 0x8000000000000000, true};
  return s;
}

inline QueueState queue(uint16_t index) {
  QueueState q;
  q.size = 256;
  q.ready = true;
  q.desc_addr = 0x100000 + index * 0x10000;
  q.avail_addr = q.desc_addr + 0x1000;
  q.used_addr = q.desc_addr + 0x2000;
  q.next_avail = static_cast<uint16_t>(0xfff0 + index);
  q.next_used = static_cast<uint16_t>(0xffe0 + index);
  q.event_idx = true;
  return q;
}

inline VirtioPciDevice::State virtio_pci() {
  VirtioPciDevice::State s;
  s.pci_config.resize(4096);
  for (size_t i = 0; i < 256; ++i) s.pci_config[i] = static_cast<uint8_t>(i ^ 0xa5);
  s.msix.table.resize(4 * 16);
  for (size_t i = 0; i < s.msix.table.size(); ++i) s.msix.table[i] = static_cast<uint8_t>(i + 1);
  s.msix.pending = {0x5};
  s.transport.status = 0x0f;
  s.transport.driver_features = 0x130010020;
  s.transport.device_feature_select = 1;
  s.transport.driver_feature_select = 1;
  s.transport.queue_select = 2;
  s.transport.isr = 1;
  s.transport.config_generation = 3;
  s.transport.config_vector = 0;
  s.transport.queue_vectors = {1, 2, 3};  // v1 repeats each in its queue
  s.transport.queues = {queue(0), queue(1), queue(2)};
  return s;
}

inline RxFilter rx_filter() {
  RxFilter f;
  f.mac = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
  f.promisc = false;
  f.allmulti = true;
  f.nobcast = false;
  f.unicast = {{{0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}}};
  f.multicast = {{{0x33, 0x33, 0xff, 0x12, 0x34, 0x56}},
                 {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}},
                 {{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}}};
  f.uni_overflow = false;
  f.multi_overflow = false;
  f.vlan_filtering = true;
  f.set_vlan(0, true);
  f.set_vlan(100, true);
  f.set_vlan(4095, true);
  return f;
}

// control.rx_filter stays default: it travels in its own payload.
inline NetDevice::State net_device() {
  NetDevice::State s;
  s.link_up = true;
  s.active = true;
  s.features = (1ull << 32) | (1ull << 29) | (1ull << 17) | (1ull << 18) | (1ull << 19) | (1ull << 22) | (1ull << 5) |
               (1ull << 0);
  s.control.queue_pairs = 1;
  s.control.guest_offloads = 0x3;
  s.control.announce_pending = true;
  s.control.rss.enabled = true;
  s.control.rss.steering = false;
  s.control.rss.hash_types = 0x3;
  s.control.rss.key = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2};
  s.rx_held = {{3, 4, 5}};
  return s;
}

inline BlkDevice::State blk_device() {
  BlkDevice::State s;
  s.active = true;
  s.features = (1ull << 32) | (1ull << 29) | (1ull << 9) | (1ull << 11) | (1ull << 13) | (1ull << 14) | (1ull << 12);
  s.writeback = false;
  s.capacity_bytes = 64ull << 20;
  s.image_inode = 0x1234567;
  s.read_only = false;
  s.queues = 2;
  s.in_flight = {{0, 7, 3}, {}};
  return s;
}

struct Case {
  std::string file;  // in tests/golden/
  migrate::Payload payload;
};

inline std::string file_name(std::string_view kind, uint32_t version) {
  std::string name(kind);
  for (char& c : name)
    if (c == '/') c = '_';
  return name + ".v" + std::to_string(version) + ".bin";
}

template <class T>
Case make_case(const migrate::PayloadKind<T>& kind, const std::string& instance, const T& value, uint32_t version) {
  return {file_name(kind.name, version), migrate::make_payload(kind, instance, value, version)};
}

// One case per kind and importable version.
inline std::vector<Case> cases() {
  namespace k = migrate::kinds;
  return {
      make_case(k::kMemoryLayout, "ram", layout(), 1),
      make_case(k::kVcpu, "cpu0", vcpu(), 1),
      make_case(k::kVm, "vm", vm(), 1),
      make_case(k::kUart, "com1", uart(), 1),
      make_case(k::kI8042, "i8042", i8042(), 1),
      make_case(k::kCmos, "cmos", cmos(), 1),
      make_case(k::kAcpiPm, "acpi-pm", acpi_pm(), 1),
      make_case(k::kHpet, "hpet", hpet(), 1),
      make_case(k::kVirtioPci, "net0", virtio_pci(), 1),
      make_case(k::kVirtioPci, "net0", virtio_pci(), 2),
      make_case(k::kNetDevice, "net0", net_device(), 1),
      make_case(k::kRxFilter, "net0", rx_filter(), 1),
      make_case(k::kRxFilter, "net0", rx_filter(), 2),
      make_case(k::kBlkDevice, "disk0", blk_device(), 1),
  };
}

}  // namespace wren::golden
