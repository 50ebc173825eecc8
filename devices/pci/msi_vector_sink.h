#pragma once
// How an MSI-X vector reaches the CPU. The MSI-X table decides *whether* a
// vector fires (enable, masks, pending bits); a sink decides *how*:
// DirectMsiVectorSink sends the message through an MsiSink (KVM_SIGNAL_MSI in
// the machine, a fake in tests), IrqfdMsiVectorSink (irqfd_msi.h) signals a
// per-vector eventfd bound to a KVM MSI route.
#include <cstdint>

#include "hypervisor/irq.h"

namespace wren::pci {

class MsiVectorSink {
 public:
  virtual ~MsiVectorSink() = default;
  // Fire `vector`, whose table entry currently holds (address, data).
  virtual void deliver(uint16_t vector, uint64_t address, uint32_t data) = 0;
  // The vector became deliverable (unmasked and enabled) or its message
  // changed while deliverable: a chance to program a route ahead of time, on
  // the vCPU thread rather than on the first delivery.
  virtual void route_changed(uint16_t /*vector*/, uint64_t /*address*/, uint32_t /*data*/) {}
};

class DirectMsiVectorSink : public MsiVectorSink {
 public:
  // `sink` must outlive this object.
  explicit DirectMsiVectorSink(MsiSink& sink) : sink_(sink) {}
  void deliver(uint16_t, uint64_t address, uint32_t data) override { sink_.send(address, data); }

 private:
  MsiSink& sink_;
};

}  // namespace wren::pci
