#include "vmm/machine/platform_devices.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "devices/platform/acpi_pm.h"
#include "devices/platform/cmos_rtc.h"
#include "devices/platform/debug_exit.h"
#include "devices/platform/hpet.h"
#include "devices/platform/hpet_loop_scheduler.h"
#include "devices/platform/i8042.h"
#include "devices/platform/pc_testdev.h"
#include "devices/platform/pc_testdev_iomem.h"
#include "devices/platform/pc_testdev_irq.h"
#include "devices/platform/port_sink.h"
#include "devices/platform/system_control_port_a.h"
#include "devices/platform/uart16550.h"
#include "hypervisor/kvm_irq_line.h"
#include "hypervisor/layout.h"
#include "migrate/kinds.h"
#include "vmm/machine/serial_backend.h"

namespace wren {

namespace {

void insert_or_throw(IoBus& bus, uint64_t base, uint64_t len, std::shared_ptr<BusDevice> dev, const char* what) {
  if (!bus.insert(base, len, std::move(dev)))
    throw std::runtime_error(std::string("address range of ") + what + " overlaps another device");
}

// With the HPET's legacy replacement route on, its timer 0 is IRQ0 and the
// PIT must stay quiet (KVM_PIT_FLAGS_HPET_LEGACY), as on real chipsets.
void set_pit_hpet_legacy(Vm& vm, bool on) {
  kvm_pit_state2 pit{};
  if (vm.ioctl(KVM_GET_PIT2, &pit) < 0) {
    spdlog::warn("HPET legacy route: KVM_GET_PIT2 failed; the PIT keeps its IRQ0");
    return;
  }
  pit.flags = on ? (pit.flags | KVM_PIT_FLAGS_HPET_LEGACY) : (pit.flags & ~KVM_PIT_FLAGS_HPET_LEGACY);
  if (vm.ioctl(KVM_SET_PIT2, &pit) < 0) spdlog::warn("HPET legacy route: KVM_SET_PIT2 failed");
}

}  // namespace

PlatformDevices::PlatformDevices(Vm& vm, IoBus& pio, IoBus& mmio, boost::asio::io_context& loop, SerialBackend& serial,
                                 GuestMemory& memory, OutcomeLatch& outcome,
                                 const std::optional<TestExitConfig>& test_exit, bool pc_testdev) {
  Hpet::IoApicLines lines{};
  for (uint32_t gsi = 0; gsi < ioapic_lines_.size(); ++gsi) {
    ioapic_lines_[gsi] = std::make_unique<KvmIrqLine>(vm, gsi);
    lines[gsi] = ioapic_lines_[gsi].get();
  }
  uart_ =
      std::make_shared<Uart16550>(lines[layout::kIrqCom1], [&serial](std::span<const uint8_t> b) { serial.write(b); });
  insert_or_throw(pio, layout::kPortCom1, Uart16550::kLength, uart_, "COM1");

  i8042_ = std::make_shared<I8042>([&outcome] {
    outcome.report({VmOutcome::Kind::Reset, 0, "guest reset the machine (i8042)"});
  });
  insert_or_throw(pio, layout::kPortI8042Data, 1, std::make_shared<I8042Port>(i8042_, I8042Port::Which::kData),
                  "i8042");
  insert_or_throw(pio, layout::kPortI8042Cmd, 1, std::make_shared<I8042Port>(i8042_, I8042Port::Which::kCommand),
                  "i8042");

  uint64_t low = 0, high = 0;
  for (const auto& r : memory.regions()) (r.gpa < layout::kHighRamStart ? low : high) += r.size;
  cmos_ = std::make_shared<CmosRtc>(low, high);
  insert_or_throw(pio, layout::kPortCmosIndex, CmosRtc::kLength, cmos_, "CMOS");

  acpi_pm_ = std::make_shared<AcpiPm>(lines[layout::kIrqAcpiSci], [&outcome] {
    outcome.report({VmOutcome::Kind::PowerOff, 0, "guest powered off (ACPI S5)"});
  });
  insert_or_throw(pio, AcpiPm::kBase, AcpiPm::kLength, acpi_pm_, "ACPI PM");

  insert_or_throw(pio, SystemControlPortA::kPort, 1, std::make_shared<SystemControlPortA>([&outcome] {
                    outcome.report({VmOutcome::Kind::Reset, 0, "guest reset the machine (port 0x92)"});
                  }),
                  "System Control Port A");

  hpet_scheduler_ = std::make_unique<HpetLoopScheduler>(loop);
  hpet_ = std::make_shared<Hpet>(lines, *hpet_scheduler_, [&vm](bool on) { set_pit_hpet_legacy(vm, on); });
  hpet_scheduler_->set_expired([hpet = hpet_.get()](unsigned timer) { hpet->expire(timer); });
  insert_or_throw(mmio, Hpet::kBase, Hpet::kLength, hpet_, "HPET");

  // Port 0x80 is the POST/io-delay port Linux writes to; keep it quiet.
  insert_or_throw(pio, 0x80, 1, std::make_shared<PortSink>(), "POST port");

  if (test_exit) {
    auto dev = std::make_shared<DebugExit>(test_exit->iobase, test_exit->iosize, [&outcome](int status) {
      outcome.report({VmOutcome::Kind::TestExit, status, "guest wrote to the test-exit device"});
    });
    insert_or_throw(pio, test_exit->iobase, dev->claimed_length(), dev, "--test-exit");
  }
  if (pc_testdev) {
    auto dev = std::make_shared<PcTestdev>([&memory](uint64_t gpa) { (void)memory.refault_page(gpa); });
    insert_or_throw(pio, PcTestdev::kBase, PcTestdev::kLength, dev, "--pc-testdev");
    insert_or_throw(pio, PcTestdevIrqLines::kBase, PcTestdevIrqLines::kLength,
                    std::make_shared<PcTestdevIrqLines>(lines), "--pc-testdev IRQ lines");
    insert_or_throw(mmio, PcTestdevIomem::kBase, PcTestdevIomem::kLength, std::make_shared<PcTestdevIomem>(),
                    "--pc-testdev memory");
  }
}

PlatformDevices::~PlatformDevices() = default;

void PlatformDevices::pause() { hpet_->pause(); }
void PlatformDevices::resume() { hpet_->resume(); }

void PlatformDevices::serial_input(std::span<const uint8_t> bytes) { uart_->push_input(bytes); }

namespace {
constexpr const char* kCom1 = "com1";
constexpr const char* kI8042 = "i8042";
constexpr const char* kCmos = "cmos";
constexpr const char* kAcpiPm = "acpi-pm";
constexpr const char* kHpet = "hpet";

// Takes one device's payload and hands it to the device's restore().
template <class Kind, class Device>
void restore_one(migrate::Import& import, const Kind& kind, const char* instance, Device& device) {
  auto state = import.take(kind, instance);
  if (!state) throw std::runtime_error(state.error());
  if (!device.restore(*state))
    throw std::runtime_error(std::string(kind.name) + " '" + instance + "': refused by the device");
}
}  // namespace

void PlatformDevices::press_power_button() { acpi_pm_->press_power_button(); }

std::vector<migrate::Payload> PlatformDevices::save_payloads() const {
  std::vector<migrate::Payload> out;
  out.push_back(migrate::make_payload(migrate::kinds::kUart, kCom1, uart_->save()));
  out.push_back(migrate::make_payload(migrate::kinds::kI8042, kI8042, i8042_->save()));
  out.push_back(migrate::make_payload(migrate::kinds::kCmos, kCmos, cmos_->save()));
  out.push_back(migrate::make_payload(migrate::kinds::kAcpiPm, kAcpiPm, acpi_pm_->save()));
  out.push_back(migrate::make_payload(migrate::kinds::kHpet, kHpet, hpet_->save()));
  return out;
}

void PlatformDevices::restore_payloads(migrate::Import& import) {
  restore_one(import, migrate::kinds::kUart, kCom1, *uart_);
  restore_one(import, migrate::kinds::kI8042, kI8042, *i8042_);
  restore_one(import, migrate::kinds::kCmos, kCmos, *cmos_);
  restore_one(import, migrate::kinds::kAcpiPm, kAcpiPm, *acpi_pm_);
  if (auto state = import.take_optional(migrate::kinds::kHpet, kHpet)) {
    if (!*state) throw std::runtime_error(state->error());
    if (!hpet_->restore(**state)) throw std::runtime_error(std::string(kHpet) + ": refused by the device");
  }
}

}  // namespace wren
