#pragma once
// The legacy (virtio 0.9.5) register file in I/O BAR 0 of a transitional
// device, decoded onto a TransportCore:
//
//   0  host features (32, RO)      4  guest features (32)
//   8  queue PFN (32)              12 queue size (16, RO: the max size)
//   14 queue select (16)           16 queue notify (16, WO: queue index)
//   18 status (8)                  19 ISR (8, read clears)
//   with MSI-X enabled: 20 config vector (16), 22 queue vector (16),
//   device config from 24; otherwise device config from 20.
//
// Legacy registers and device config are guest-native endian; Wren only
// runs x86 guests, so that is little-endian, the same as virtio 1.x.
// Registers answer to their natural width only (other accesses read zero,
// write nothing); device config accepts any width. Queue notify is not
// handled here: the caller owns kick delivery (see legacy_notify_queue).
// Caller holds the core's access_mutex().
#include <cstdint>
#include <optional>
#include <span>

#include "virtio/pci/transport_core.h"

namespace wren::virtio_pci {

inline constexpr uint64_t kLegacyQueueNotify = 16;
inline constexpr uint64_t kLegacyConfigNoMsix = 20;
inline constexpr uint64_t kLegacyConfigMsix = 24;

inline constexpr uint64_t legacy_config_offset(bool msix_enabled) {
  return msix_enabled ? kLegacyConfigMsix : kLegacyConfigNoMsix;
}

void legacy_read(TransportCore& core, bool msix_enabled, uint64_t offset, std::span<uint8_t> out);
void legacy_write(TransportCore& core, bool msix_enabled, uint64_t offset, std::span<const uint8_t> in);

// The queue a write is kicking, if it is a well-formed write to the
// queue-notify register.
std::optional<uint16_t> legacy_notify_queue(uint64_t offset, std::span<const uint8_t> in);

}  // namespace wren::virtio_pci
