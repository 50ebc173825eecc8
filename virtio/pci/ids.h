#pragma once
// Constants of the virtio-over-PCI binding (virtio 1.x §4.1) shared by the
// modern and legacy register files.
#include <cstdint>
#include <optional>

namespace wren::virtio_pci {

inline constexpr uint16_t kVendorId = 0x1af4;            // Red Hat / virtio
inline constexpr uint16_t kModernDeviceIdBase = 0x1040;  // + device type
inline constexpr uint16_t kModernSubsystemId = 0x1100;   // spec: >= 0x40 for non-transitional
inline constexpr uint8_t kModernRevision = 1;
inline constexpr uint8_t kTransitionalRevision = 0;  // spec: transitional devices MUST use 0

// Device status bits (§2.1).
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 0x40;
inline constexpr uint8_t kStatusFailed = 0x80;

// ISR status bits (§4.1.4.5).
inline constexpr uint8_t kIsrQueue = 1;
inline constexpr uint8_t kIsrConfig = 2;

inline constexpr uint16_t kNoVector = 0xffff;

// virtio_pci_cap cfg_type values.
inline constexpr uint8_t kCapCommonCfg = 1;
inline constexpr uint8_t kCapNotifyCfg = 2;
inline constexpr uint8_t kCapIsrCfg = 3;
inline constexpr uint8_t kCapDeviceCfg = 4;
inline constexpr uint8_t kCapPciCfg = 5;

// Transitional (legacy) PCI device id of a device type (§4.1.2.3), if the
// type has one.
inline constexpr std::optional<uint16_t> transitional_device_id(uint32_t type) {
  switch (type) {
    case 1: return 0x1000;  // network
    case 2: return 0x1001;  // block
    case 5: return 0x1002;  // memory balloon
    case 3: return 0x1003;  // console
    case 8: return 0x1004;  // SCSI host
    case 4: return 0x1005;  // entropy source
    case 9: return 0x1009;  // 9P transport
    default: return std::nullopt;
  }
}

// PCI class code (class << 16 | subclass << 8 | prog-if) per device type,
// the way guests expect to see them.
inline constexpr uint32_t pci_class_for(uint32_t type) {
  switch (type) {
    case 1: return 0x020000;  // Ethernet controller
    case 2: return 0x010000;  // SCSI storage controller (what virtio-blk has always used)
    case 8: return 0x010000;
    case 3: return 0x078000;   // communication controller, other
    default: return 0x00ff00;  // unclassified
  }
}

}  // namespace wren::virtio_pci
