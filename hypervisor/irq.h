#pragma once
// Interrupt sinks as devices see them. The machine wires them to KVM
// (KVM_IRQ_LINE, irqfd, MSI routes); tests wire them to fakes.
#include <cstdint>

namespace wren {

// A level-triggered wire into the interrupt controller (e.g. an IOAPIC pin).
class IrqLine {
 public:
  virtual ~IrqLine() = default;
  virtual void set_level(bool high) = 0;
  // Edge: raise then lower.
  void pulse() {
    set_level(true);
    set_level(false);
  }
};

// A message-signalled interrupt (address/data as programmed by the guest).
class MsiSink {
 public:
  virtual ~MsiSink() = default;
  virtual void send(uint64_t address, uint32_t data) = 0;
};

}  // namespace wren
