#pragma once
// What the PCI bus needs from a PCI function. The bus owns slot numbers, BAR
// placement and mapping the BAR regions on the MMIO/PIO buses; the device
// owns its config space and the handlers behind its BARs.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "devices/pci/bar.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/irq.h"

namespace wren::pci {

class PciDevice {
 public:
  virtual ~PciDevice() = default;

  virtual std::string name() const = 0;

  // Guest config accesses. The bus guarantees offset + data.size() <= 4096
  // and 1 <= data.size() <= 4; the width and alignment are otherwise the
  // guest's choice (any byte pattern must be handled).
  virtual void config_read(uint16_t offset, std::span<uint8_t> out) = 0;
  virtual void config_write(uint16_t offset, std::span<const uint8_t> in) = 0;

  // The BAR declared at `index` (immutable after construction), and the
  // handler that serves it; offsets it sees are relative to the BAR base.
  virtual std::optional<BarSpec> bar_spec(int index) const = 0;
  virtual std::shared_ptr<BusDevice> bar_region(int index) = 0;

  // The bus tells the device where a BAR is decoded now (e.g. to move
  // ioeventfds with it). Called from the vCPU thread doing the config write.
  virtual void bar_mapped(int /*index*/, uint64_t /*address*/) {}
  virtual void bar_unmapped(int /*index*/, uint64_t /*address*/) {}

  // The level-triggered line behind this function's interrupt pin (nullptr if
  // the machine wired none). Called once by the bus when the device is added.
  virtual void attach_intx(std::shared_ptr<IrqLine> /*line*/) {}

  // PCI function reset: config space and device state back to power-on.
  // The bus re-places the BARs afterwards (as firmware would).
  virtual void reset() = 0;
};

}  // namespace wren::pci
