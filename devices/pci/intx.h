#pragma once
// Level-triggered INTx sharing. PCI slots share four IOAPIC pins
// (layout::kPciIntxFirstGsi + ((slot + pin) % 4)); a pin is high while any
// device on it asserts, so each device gets its own IrqLine that ORs into
// the shared one.
#include <cstdint>
#include <memory>
#include <mutex>

#include "hypervisor/irq.h"
#include "hypervisor/layout.h"

namespace wren::pci {

// GSI of interrupt pin `pin` (1 = INTA# .. 4 = INTD#) of device `slot` on
// bus 0. Must match the DSDT _PRT.
inline constexpr uint32_t intx_gsi(uint8_t slot, uint8_t pin) {
  return layout::kPciIntxFirstGsi + ((slot + (pin - 1u)) % 4u);
}

class SharedIntxLine : public std::enable_shared_from_this<SharedIntxLine> {
 public:
  // `line` may be null (interrupts are then dropped: useful for tests that do
  // not care, never the case in a machine).
  explicit SharedIntxLine(IrqLine* line) : line_(line) {}

  // A new source ORed into this line (keeps this line alive). The object
  // must be owned by a shared_ptr.
  std::shared_ptr<IrqLine> make_source();

  bool level() const;

 private:
  class Source;
  void update(bool high);

  IrqLine* line_;
  mutable std::mutex mutex_;
  uint32_t asserted_ = 0;  // number of sources currently high
};

}  // namespace wren::pci
