#pragma once
// IrqLine and MsiSink backed by the in-kernel irqchip.
#include <cstdint>

#include "vmm/core/irq.h"
#include "vmm/core/kvm.h"

namespace wren {

class KvmIrqLine final : public IrqLine {
 public:
  KvmIrqLine(Vm& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool high) override { vm_.set_irq_line(gsi_, high); }

 private:
  Vm& vm_;
  uint32_t gsi_;
};

class KvmMsiSink final : public MsiSink {
 public:
  explicit KvmMsiSink(Vm& vm) : vm_(vm) {}
  void send(uint64_t address, uint32_t data) override { vm_.signal_msi(address, data); }

 private:
  Vm& vm_;
};

}  // namespace wren
