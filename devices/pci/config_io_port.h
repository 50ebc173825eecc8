#pragma once
// PCI configuration mechanism #1: ports 0xCF8..0xCFF. Insert at
// layout::kPortPciConfigAddr with length 8.
//
// 0xCF8 (dword access only) is CONFIG_ADDRESS: bit 31 enable, bus 23:16,
// device 15:11, function 10:8, register 7:2. 0xCFC..0xCFF is CONFIG_DATA: a
// 1/2/4-byte access at port 0xCFC+k reaches register + k. With the enable
// bit clear, data reads return all-ones and writes are dropped.
// A byte write to 0xCF9 is the PIIX/ICH reset control register; if the
// machine passes `on_reset_request`, writing bit 2 (RST_CPU) calls it
// (Linux "reboot=pci").
#include <cstdint>
#include <functional>
#include <mutex>

#include "devices/pci/bus.h"
#include "hypervisor/io_bus.h"

namespace wren::pci {

class PciConfigIoPort : public BusDevice {
 public:
  static constexpr uint64_t kLength = 8;
  static constexpr uint32_t kEnable = 1u << 31;

  explicit PciConfigIoPort(PciBus& bus, std::function<void()> on_reset_request = {})
      : bus_(bus), on_reset_request_(std::move(on_reset_request)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  uint32_t address() const;

 private:
  PciBus& bus_;
  std::function<void()> on_reset_request_;
  mutable std::mutex mutex_;
  uint32_t address_ = 0;
  uint8_t reset_control_ = 0;
};

}  // namespace wren::pci
