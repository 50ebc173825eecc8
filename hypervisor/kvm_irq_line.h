#pragma once
// IrqLine backed by the in-kernel irqchip (MSI goes through irqfd routes, devices/pci/irqfd_msi.h).
#include <cstdint>

#include "hypervisor/irq.h"
#include "hypervisor/kvm.h"

namespace wren {

class KvmIrqLine final : public IrqLine {
 public:
  KvmIrqLine(Vm& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool high) override { vm_.set_irq_line(gsi_, high); }

 private:
  Vm& vm_;
  uint32_t gsi_;
};

}  // namespace wren
