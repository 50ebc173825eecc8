#include "vmm/machine/platform_devices.h"

#include <stdexcept>

#include "devices/platform/acpi_pm.h"
#include "devices/platform/cmos_rtc.h"
#include "devices/platform/debug_exit.h"
#include "devices/platform/i8042.h"
#include "devices/platform/pc_testdev.h"
#include "devices/platform/port_sink.h"
#include "devices/platform/uart16550.h"
#include "hypervisor/kvm_irq_line.h"
#include "hypervisor/layout.h"
#include "migrate/kinds.h"
#include "vmm/machine/serial_backend.h"

namespace wren {

namespace {

void insert_or_throw(IoBus& bus, uint64_t base, uint64_t len, std::shared_ptr<BusDevice> dev, const char* what) {
  if (!bus.insert(base, len, std::move(dev)))
    throw std::runtime_error(std::string("port range of ") + what + " overlaps another device");
}

}  // namespace

PlatformDevices::PlatformDevices(Vm& vm, IoBus& pio, SerialBackend& serial, GuestMemory& memory, OutcomeLatch& outcome,
                                 const std::optional<TestExitConfig>& test_exit, bool pc_testdev)
    : com1_irq_(std::make_unique<KvmIrqLine>(vm, layout::kIrqCom1)),
      sci_irq_(std::make_unique<KvmIrqLine>(vm, layout::kIrqAcpiSci)) {
  uart_ = std::make_shared<Uart16550>(com1_irq_.get(), [&serial](std::span<const uint8_t> b) { serial.write(b); });
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

  acpi_pm_ = std::make_shared<AcpiPm>(sci_irq_.get(), [&outcome] {
    outcome.report({VmOutcome::Kind::PowerOff, 0, "guest powered off (ACPI S5)"});
  });
  insert_or_throw(pio, AcpiPm::kBase, AcpiPm::kLength, acpi_pm_, "ACPI PM");

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
  }
}

PlatformDevices::~PlatformDevices() = default;

void PlatformDevices::serial_input(std::span<const uint8_t> bytes) { uart_->push_input(bytes); }

namespace {
constexpr const char* kCom1 = "com1";
constexpr const char* kI8042 = "i8042";
constexpr const char* kCmos = "cmos";
constexpr const char* kAcpiPm = "acpi-pm";

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
  return out;
}

void PlatformDevices::restore_payloads(migrate::Import& import) {
  restore_one(import, migrate::kinds::kUart, kCom1, *uart_);
  restore_one(import, migrate::kinds::kI8042, kI8042, *i8042_);
  restore_one(import, migrate::kinds::kCmos, kCmos, *cmos_);
  restore_one(import, migrate::kinds::kAcpiPm, kAcpiPm, *acpi_pm_);
}

}  // namespace wren
