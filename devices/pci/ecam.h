#pragma once
// PCI Express enhanced configuration access (ECAM / MMCONFIG): a BusDevice
// for [layout::kPciEcamStart, +layout::kPciEcamSize). Offset bits 27:20 bus,
// 19:15 device, 14:12 function, 11:0 register (4 KiB per function, so the
// extended space is reachable). Only bus 0 is populated; everything else
// reads all-ones. Accesses of 1, 2 and 4 bytes are served; 8-byte accesses
// are split into two dwords; other widths, and accesses crossing a
// function's 4 KiB, read all-ones and write nothing.
#include <cstdint>

#include "devices/pci/bus.h"
#include "hypervisor/io_bus.h"

namespace wren::pci {

class PciEcam : public BusDevice {
 public:
  explicit PciEcam(PciBus& bus) : bus_(bus) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  PciBus& bus_;
};

}  // namespace wren::pci
