// save -> serialize -> load -> restore -> compare, for every State struct:
// the component's own save() produces the value, it goes through a payload
// and a stream, comes back through the import rules, and a fresh component
// restore()s it and saves the same value again.
#include <gtest/gtest.h>
#include <linux/virtio_pci.h>

#include <boost/asio/io_context.hpp>

#include "golden/golden_values.h"
#include "migrate/kinds.h"
#include "migrate/stream.h"
#include "unit/hypervisor/vcpu_state_clocks.h"
#include "unit/virtio/net/fake_backend.h"
#include "unit/virtio/pci/transport_harness.h"

namespace wren::migrate {
namespace {

// Through a full stream and the import rules, as a restore would.
template <class T>
T through_stream(const PayloadKind<T>& kind, const T& value, uint32_t version = 0) {
  const std::vector<Payload> payloads{make_payload(kind, "x0", value, version)};
  auto decoded = decode_state_section(encode_state_section(payloads));
  EXPECT_TRUE(decoded.ok()) << decoded.error();
  auto import = Import::create(kinds::default_registry(), std::move(decoded).value());
  EXPECT_TRUE(import.ok()) << import.error();
  auto taken = import->take(kind, "x0");
  EXPECT_TRUE(taken.ok()) << taken.error();
  EXPECT_TRUE(import->finish().ok());
  return std::move(taken).value();
}

// Structs without operator== compare by their full encoding.
template <class T>
bool same(const T& a, const T& b) {
  return encode_state(a, ArchiveVersion<T>::value) == encode_state(b, ArchiveVersion<T>::value);
}

TEST(RoundTrip, Uart16550) {
  Uart16550 uart(nullptr, [](std::span<const uint8_t>) {});
  const uint8_t ier = 0x05, lcr = 0x1b, scr = 0x77, fcr = 0xc1;
  uart.write(1, std::span(&ier, 1));
  uart.write(3, std::span(&lcr, 1));
  uart.write(7, std::span(&scr, 1));
  uart.write(2, std::span(&fcr, 1));
  const uint8_t input[] = {'h', 'i'};
  ASSERT_EQ(uart.push_input(input), 2u);
  const auto saved = uart.save();
  const auto back = through_stream(kinds::kUart, saved);
  EXPECT_EQ(back.rx_fifo, saved.rx_fifo);
  Uart16550 fresh(nullptr, [](std::span<const uint8_t>) {});
  ASSERT_TRUE(fresh.restore(back));
  EXPECT_TRUE(same(fresh.save(), saved));
  EXPECT_EQ(fresh.save().scr, 0x77);
}

TEST(RoundTrip, I8042) {
  I8042 kbc([] {});
  kbc.write_command(0x60);  // write control byte: the next data byte
  const auto saved = kbc.save();
  EXPECT_EQ(saved.pending_command, 0x60);
  I8042 fresh([] {});
  ASSERT_TRUE(fresh.restore(through_stream(kinds::kI8042, saved)));
  EXPECT_TRUE(same(fresh.save(), saved));
}

TEST(RoundTrip, CmosRtc) {
  CmosRtc rtc(256 << 20, 0, [] { return std::time_t{1700000000}; });
  rtc.set_byte(0x40, 0xab);
  const auto saved = rtc.save();
  CmosRtc fresh(256 << 20, 0, [] { return std::time_t{1700000000}; });
  ASSERT_TRUE(fresh.restore(through_stream(kinds::kCmos, saved)));
  EXPECT_TRUE(same(fresh.save(), saved));
  EXPECT_EQ(fresh.save().bytes[0x40], 0xab);
}

TEST(RoundTrip, AcpiPm) {
  uint64_t now = 0;
  AcpiPm pm(
      nullptr, [] {}, [&] { return now; });
  const uint8_t enable[] = {0x00, 0x01};  // PWRBTN_EN
  pm.write(2, enable);
  const auto saved = pm.save();
  AcpiPm fresh(
      nullptr, [] {}, [&] { return now; });
  ASSERT_TRUE(fresh.restore(through_stream(kinds::kAcpiPm, saved)));
  EXPECT_TRUE(same(fresh.save(), saved));
}

namespace {
class NoScheduler final : public Hpet::Scheduler {
 public:
  void arm(unsigned, uint64_t) override {}
  void cancel(unsigned) override {}
};
}  // namespace

TEST(RoundTrip, Hpet) {
  uint64_t now = 1000;
  NoScheduler scheduler;
  Hpet hpet({}, scheduler, {}, [&] { return now; });
  const uint8_t timer1[] = {Hpet::kInterruptEnable | Hpet::kLevelTriggered, 0, 0, 0};
  hpet.write(0x120, timer1);
  const uint8_t enable_legacy[] = {0x03};
  hpet.write(0x010, enable_legacy);
  hpet.expire(1);  // comparator 0 is due: the level line is held
  now += 12'340;
  const auto saved = hpet.save();
  EXPECT_EQ(saved.isr, 0b10u);
  EXPECT_EQ(saved.counter, 1234u);
  Hpet fresh({}, scheduler, {}, [&] { return now; });
  ASSERT_TRUE(fresh.restore(through_stream(kinds::kHpet, saved)));
  EXPECT_TRUE(same(fresh.save(), saved));
}

TEST(RoundTrip, VirtioPciFunctionWithQueues) {
  using testing::TransportHarness;
  TransportHarness a(VirtioPciMode::kModern);
  a.enable_msix();
  a.program_vector(0);
  a.program_vector(2);
  // Driver: ACK, DRIVER, features, FEATURES_OK, queue 0 at 0x10000, DRIVER_OK.
  a.common_write(VIRTIO_PCI_COMMON_STATUS, 1, 1);
  a.common_write(VIRTIO_PCI_COMMON_STATUS, 1, 3);
  a.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
  a.common_write(VIRTIO_PCI_COMMON_GF, 4, 1);
  a.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
  a.common_write(VIRTIO_PCI_COMMON_GF, 4, 1);
  a.common_write(VIRTIO_PCI_COMMON_STATUS, 1, 0xb);
  a.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  a.common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
  a.common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x10000);
  a.common_write(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 0x10800);
  a.common_write(VIRTIO_PCI_COMMON_Q_USEDLO, 4, 0x11000);
  a.common_write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
  a.common_write(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  a.common_write(VIRTIO_PCI_COMMON_STATUS, 1, 0xf);
  const auto saved = a.pci->save();
  ASSERT_EQ(saved.transport.status, 0xf);
  ASSERT_TRUE(saved.transport.queues[0].ready);

  const auto back = through_stream(kinds::kVirtioPci, saved);
  TransportHarness b(VirtioPciMode::kModern);
  EXPECT_EQ(b.pci->validate(back), std::nullopt);
  ASSERT_TRUE(b.pci->restore(back));
  const auto again = b.pci->save();
  EXPECT_TRUE(same(again, saved));
  EXPECT_EQ(again.transport.queues[0], saved.transport.queues[0]);
  EXPECT_EQ(again.transport.queue_vectors, (std::vector<uint16_t>{2, virtio_pci::kNoVector}));
  EXPECT_EQ(b.device->activations, 1);  // DRIVER_OK state re-activates the device
}

TEST(RoundTrip, RxFilterBothVersions) {
  const RxFilter f = golden::rx_filter();
  EXPECT_EQ(through_stream(kinds::kRxFilter, f), f);
  EXPECT_EQ(through_stream(kinds::kRxFilter, f, 1), f);  // VLANs set: filtering derived on
  RxFilter no_vlans = f;
  no_vlans.vlans = {};
  no_vlans.vlan_filtering = false;
  EXPECT_EQ(through_stream(kinds::kRxFilter, no_vlans, 1), no_vlans);
  RxFilter reset = RxFilter::after_reset(f.mac, false);
  EXPECT_EQ(through_stream(kinds::kRxFilter, reset), reset);
}

TEST(RoundTrip, NetDeviceStateJoinsItsTwoPayloads) {
  boost::asio::io_context io;
  NetDeviceOptions options;
  options.mac = golden::rx_filter().mac;
  auto device = NetDevice::create(options, std::make_unique<test::SocketPairBackend>(1), io);

  NetDevice::State state = device->save();
  state.link_up = false;
  state.control.rx_filter.promisc = false;
  state.control.rx_filter.multicast = {{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}};
  for (uint32_t rx_version : {1u, 2u}) {
    auto decoded = decode_state_section(encode_state_section(kinds::net_device_payloads("net0", state, rx_version)));
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    auto import = Import::create(kinds::default_registry(), std::move(decoded).value());
    ASSERT_TRUE(import.ok()) << import.error();
    auto back = kinds::take_net_device(*import, "net0");
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_TRUE(import->finish().ok());
    EXPECT_EQ(*back, state) << "rx-filter v" << rx_version;
    auto valid = device->validate(*back);
    ASSERT_TRUE(std::holds_alternative<NetDevice::ValidState>(valid)) << std::get<std::string>(valid);
    EXPECT_EQ(device->restore(std::get<NetDevice::ValidState>(valid)), std::nullopt);
  }
}

TEST(RoundTrip, NetDeviceV1FilterTakesVlanFilteringFromFeatures) {
  NetDevice::State state = golden::net_device();
  state.control.rx_filter = golden::rx_filter();
  state.features |= uint64_t{1} << VIRTIO_NET_F_CTRL_VLAN;
  state.control.rx_filter.vlans = {};  // filtering on with no VLAN added: v1 cannot say so
  auto decoded = decode_state_section(encode_state_section(kinds::net_device_payloads("net0", state, 1)));
  ASSERT_TRUE(decoded.ok());
  auto import = Import::create(kinds::default_registry(), std::move(decoded).value());
  ASSERT_TRUE(import.ok()) << import.error();
  auto back = kinds::take_net_device(*import, "net0");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_TRUE(back->control.rx_filter.vlan_filtering);
  EXPECT_EQ(*back, state);
}

TEST(RoundTrip, VcpuAndVmThroughRealKvm) {
  Kvm kvm;
  auto make = [&](Vm& vm) {
    vm.set_tss_addr(0xfffbd000);
    vm.create_irqchip();
    vm.create_pit2();
    Vcpu vcpu = vm.create_vcpu(0);
    vcpu.set_cpuid(kvm.supported_cpuid());
    return vcpu;
  };
  Vm vm_a = kvm.create_vm();
  Vcpu a = make(vm_a);
  kvm_regs regs = a.get_regs();
  regs.rbx = 0xfeedface;
  regs.rip = 0xfff0;
  a.set_regs(regs);
  const VcpuState saved = capture_vcpu_state(a, kvm);
  const VmState vm_saved = capture_vm_state(vm_a);

  const VcpuState back = through_stream(kinds::kVcpu, saved);
  EXPECT_TRUE(back == saved);
  const VmState vm_back = through_stream(kinds::kVm, vm_saved);
  EXPECT_TRUE(vm_back == vm_saved);

  Vm vm_b = kvm.create_vm();
  Vcpu b = make(vm_b);
  restore_vm_state(vm_b, vm_back);
  restore_vcpu_state(b, kvm, back);
  VcpuState again = capture_vcpu_state(b, kvm);
  EXPECT_EQ(again.regs.rbx, 0xfeedfaceu);
  // Everything but the clocks is identical.
  EXPECT_EQ(first_difference(without_clocks(again), without_clocks(saved)), std::nullopt);
}

TEST(RoundTrip, GuestMemoryLayout) {
  GuestMemory mem({{0, 1 << 20}, {0x100000000, 1 << 20}});
  const auto layout = GuestMemoryLayout::of(mem);
  const auto back = through_stream(kinds::kMemoryLayout, layout);
  EXPECT_EQ(back, layout);
  EXPECT_EQ(check_layout_matches(back, mem), std::nullopt);
  GuestMemory other({{0, 2 << 20}});
  EXPECT_NE(check_layout_matches(back, other), std::nullopt);
}

}  // namespace
}  // namespace wren::migrate
