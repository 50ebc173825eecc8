#pragma once
// The legacy x86 platform: COM1 16550, i8042 (reset), System Control Port A
// (fast reset), CMOS/RTC, ACPI PM registers (power-off) and the optional
// test devices on the port-I/O bus; the HPET (and pc-testdev's memory
// window) on the MMIO bus.
#include <array>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/kvm.h"
#include "hypervisor/layout.h"
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
class Hpet;
class HpetLoopScheduler;
namespace migrate {
class Import;
}

class PlatformDevices {
 public:
  PlatformDevices(Vm& vm, IoBus& pio, IoBus& mmio, boost::asio::io_context& loop, SerialBackend& serial,
                  GuestMemory& memory, OutcomeLatch& outcome, const std::optional<TestExitConfig>& test_exit,
                  bool pc_testdev);
  ~PlatformDevices();

  // Host console input for the guest's COM1 (event loop thread).
  void serial_input(std::span<const uint8_t> bytes);

  // The VM stops and continues: the HPET's counter and timers freeze in between.
  void pause();
  void resume();

  // Presses the ACPI fixed power button (QMP system_powerdown).
  void press_power_button();

  // Snapshots: one payload per device ("com1", "i8042", "cmos", "acpi-pm",
  // "hpet"; a snapshot from before the HPET has no "hpet" and leaves it reset).
  // Save with every vCPU paused; restore before any vCPU runs. restore
  // throws std::runtime_error naming the payload that is missing or refused.
  std::vector<migrate::Payload> save_payloads() const;
  void restore_payloads(migrate::Import& import);

 private:
  // One line per IOAPIC input (GSI i = input i under KVM's default routing).
  std::array<std::unique_ptr<KvmIrqLine>, layout::kNumIoApicPins> ioapic_lines_;
  std::unique_ptr<HpetLoopScheduler> hpet_scheduler_;
  std::shared_ptr<Uart16550> uart_;
  std::shared_ptr<I8042> i8042_;
  std::shared_ptr<CmosRtc> cmos_;
  std::shared_ptr<AcpiPm> acpi_pm_;
  std::shared_ptr<Hpet> hpet_;
};

}  // namespace wren
