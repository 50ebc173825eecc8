#pragma once
// The IRQ-line part of QEMU's pc-testdev: 24 one-byte ports at 0x2000; a byte
// written to 0x2000 + n sets the level of IOAPIC input n (nonzero = high,
// zero = low). Guest test suites (kvm-unit-tests' ioapic test) drive the
// interrupt controller's edge- and level-triggered inputs through them.
//
// As in QEMU, only one-byte writes count (wider ones are ignored) and reads
// return 0. A line the machine also gives to a device (COM1, the SCI) is
// shared with it: the last writer sets the level. Threading: any vCPU
// thread; the lines must be safe to drive concurrently (KVM_IRQ_LINE is).
#include <array>
#include <cstdint>
#include <span>

#include "hypervisor/io_bus.h"
#include "hypervisor/irq.h"
#include "hypervisor/layout.h"

namespace wren {

class PcTestdevIrqLines final : public BusDevice {
 public:
  static constexpr uint16_t kBase = 0x2000;
  static constexpr unsigned kLength = layout::kNumIoApicPins;
  using Lines = std::array<IrqLine*, kLength>;

  // `lines[n]` drives IOAPIC input n; a null entry makes its port a no-op.
  // The lines must outlive the device.
  explicit PcTestdevIrqLines(const Lines& lines) : lines_(lines) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  const Lines lines_;
};

}  // namespace wren
