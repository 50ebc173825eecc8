#pragma once
// The modern virtio-pci common configuration structure (virtio 1.x
// §4.1.4.3), decoded onto a TransportCore.
//
// Access rules: every field answers to its natural width at its own offset;
// the 64-bit queue address fields also answer to 32-bit accesses of either
// half and to one 8-byte access. A read narrower than the field at its
// start returns the field's low bytes (QEMU-compatible; an old iPXE relies
// on it). Anything else (a 2-byte read in the middle of a 32-bit field, a
// 4-byte access at device_status, any narrow write, ...) reads as zero and
// writes nothing. The structure is 0x40 bytes; 56..63
// (queue_notify_data, queue_reset) read zero because the features behind
// them are not offered. Caller holds the core's access_mutex().
#include <cstdint>
#include <span>

#include "virtio/pci/transport_core.h"

namespace wren::virtio_pci {

inline constexpr uint64_t kCommonCfgSize = 0x40;
inline constexpr uint64_t kCommonCfgSpecSize = 56;  // sizeof(struct virtio_pci_common_cfg)

void common_cfg_read(TransportCore& core, uint64_t offset, std::span<uint8_t> out);
void common_cfg_write(TransportCore& core, uint64_t offset, std::span<const uint8_t> in);

}  // namespace wren::virtio_pci
