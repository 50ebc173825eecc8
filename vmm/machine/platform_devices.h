#pragma once
// The legacy x86 platform on the port-I/O bus: COM1 16550, i8042 (reset),
// CMOS/RTC, ACPI PM registers (power-off) and the optional test-exit port.
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/kvm.h"
#include "migrate/payload.h"
#include "vmm/cli/run_config.h"
#include "vmm/machine/vm_outcome.h"

namespace wren {

class SerialBackend;
class KvmIrqLine;
class Uart16550;
class I8042;
class CmosRtc;
class AcpiPm;
namespace migrate {
class Import;
}

class PlatformDevices {
 public:
  PlatformDevices(Vm& vm, IoBus& pio, SerialBackend& serial, GuestMemory& memory, OutcomeLatch& outcome,
                  const std::optional<TestExitConfig>& test_exit, bool pc_testdev);
  ~PlatformDevices();

  // Host console input for the guest's COM1 (event loop thread).
  void serial_input(std::span<const uint8_t> bytes);

  // Presses the ACPI fixed power button (QMP system_powerdown).
  void press_power_button();

  // Snapshots: one payload per device ("com1", "i8042", "cmos", "acpi-pm").
  // Save with every vCPU paused; restore before any vCPU runs. restore
  // throws std::runtime_error naming the payload that is missing or refused.
  std::vector<migrate::Payload> save_payloads() const;
  void restore_payloads(migrate::Import& import);

 private:
  std::unique_ptr<KvmIrqLine> com1_irq_;
  std::unique_ptr<KvmIrqLine> sci_irq_;
  std::shared_ptr<Uart16550> uart_;
  std::shared_ptr<I8042> i8042_;
  std::shared_ptr<CmosRtc> cmos_;
  std::shared_ptr<AcpiPm> acpi_pm_;
};

}  // namespace wren
