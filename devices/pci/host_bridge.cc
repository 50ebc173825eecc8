#include "devices/pci/host_bridge.h"

namespace wren::pci {

PciHostBridge::PciHostBridge()
    : config_(PciIdentity{.vendor_id = kRedHatVendorId,
                          .device_id = kHostBridgeDeviceId,
                          .subsystem_vendor_id = kQemuSubsystemVendorId,
                          .subsystem_id = kQemuSubsystemId,
                          .revision = 0,
                          .class_code = kClassHostBridge,
                          .interrupt_pin = 0}) {
  config_.capture_power_on_state();
}

void PciHostBridge::config_read(uint16_t offset, std::span<uint8_t> out) {
  std::lock_guard lock(mutex_);
  config_.read(offset, out);
}

void PciHostBridge::config_write(uint16_t offset, std::span<const uint8_t> in) {
  std::lock_guard lock(mutex_);
  config_.write(offset, in);
}

void PciHostBridge::reset() {
  std::lock_guard lock(mutex_);
  config_.reset();
}

}  // namespace wren::pci
