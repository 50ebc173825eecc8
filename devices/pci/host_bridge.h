#pragma once
// The host bridge at 00:00.0. Linux needs a device at slot 0 of bus 0 to
// treat the bus as present; it has no BARs and no interrupt.
//
// Identity: Red Hat, Inc. 0x1b36:0x0008 ("QEMU PCIe Host bridge"), class
// 0x060000. Chosen over Intel ids (e.g. Q35's 0x8086:0x29c0) because Linux
// carries chipset quirks keyed on Intel host bridge ids and this VMM emulates
// none of that chipset; the Red Hat id has no quirks attached.
//
// Subsystem: 0x1af4:0x1100 ("QEMU virtual machine"), which is how SeaBIOS
// recognises a QEMU-compatible machine (src/fw/paravirt.c qemu_detect); it
// then finds fw_cfg and, not knowing this host bridge id, skips the
// i440FX/Q35 shadow-RAM (PAM) and IRQ-router setup, which this machine does
// not need: 0xE0000-0xFFFFF is plain RAM and interrupts are routed by ACPI.
#include <memory>
#include <mutex>

#include "devices/pci/config_space.h"
#include "devices/pci/device.h"

namespace wren::pci {

inline constexpr uint16_t kRedHatVendorId = 0x1b36;
inline constexpr uint16_t kHostBridgeDeviceId = 0x0008;
inline constexpr uint16_t kQemuSubsystemVendorId = 0x1af4;
inline constexpr uint16_t kQemuSubsystemId = 0x1100;
inline constexpr uint32_t kClassHostBridge = 0x060000;

class PciHostBridge : public PciDevice {
 public:
  PciHostBridge();

  std::string name() const override { return "host-bridge"; }
  void config_read(uint16_t offset, std::span<uint8_t> out) override;
  void config_write(uint16_t offset, std::span<const uint8_t> in) override;
  std::optional<BarSpec> bar_spec(int) const override { return std::nullopt; }
  std::shared_ptr<BusDevice> bar_region(int) override { return nullptr; }
  void reset() override;

 private:
  std::mutex mutex_;
  PciConfigSpace config_;
};

}  // namespace wren::pci
