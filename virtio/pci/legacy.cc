#include "virtio/pci/legacy.h"

#include <linux/virtio_pci.h>

#include <algorithm>

#include "hypervisor/little_endian.h"

namespace wren::virtio_pci {

namespace {

size_t register_width(uint64_t offset, bool msix_enabled) {
  switch (offset) {
    case VIRTIO_PCI_HOST_FEATURES:
    case VIRTIO_PCI_GUEST_FEATURES:
    case VIRTIO_PCI_QUEUE_PFN: return 4;
    case VIRTIO_PCI_QUEUE_NUM:
    case VIRTIO_PCI_QUEUE_SEL:
    case VIRTIO_PCI_QUEUE_NOTIFY: return 2;
    case VIRTIO_PCI_STATUS:
    case VIRTIO_PCI_ISR: return 1;
    case VIRTIO_MSI_CONFIG_VECTOR:
    case VIRTIO_MSI_QUEUE_VECTOR: return msix_enabled ? 2 : 0;
    default: return 0;
  }
}

}  // namespace

void legacy_read(TransportCore& core, bool msix_enabled, uint64_t offset, std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), 0);
  const uint64_t config = legacy_config_offset(msix_enabled);
  if (offset >= config) {
    core.read_device_config(offset - config, out);
    return;
  }
  if (register_width(offset, msix_enabled) != out.size()) return;
  const Queue* q = core.selected_queue();
  uint64_t value = 0;
  switch (offset) {
    case VIRTIO_PCI_HOST_FEATURES: value = core.device_features_word(0); break;
    case VIRTIO_PCI_GUEST_FEATURES: value = core.driver_features_word(0); break;
    case VIRTIO_PCI_QUEUE_PFN: value = core.legacy_pfn(); break;
    // Legacy drivers cannot choose a size: they get the maximum (0 = no queue).
    case VIRTIO_PCI_QUEUE_NUM: value = q ? q->max_size() : 0; break;
    case VIRTIO_PCI_QUEUE_SEL: value = core.queue_select(); break;
    case VIRTIO_PCI_STATUS: value = core.status(); break;
    case VIRTIO_PCI_ISR: value = core.read_isr(); break;
    case VIRTIO_MSI_CONFIG_VECTOR: value = core.config_vector(); break;
    case VIRTIO_MSI_QUEUE_VECTOR: value = q ? core.queue_vector() : kNoVector; break;
    default: break;  // queue notify is write-only
  }
  store_le(out, value);
}

void legacy_write(TransportCore& core, bool msix_enabled, uint64_t offset, std::span<const uint8_t> in) {
  const uint64_t config = legacy_config_offset(msix_enabled);
  if (offset >= config) {
    core.write_device_config(offset - config, in);
    return;
  }
  if (register_width(offset, msix_enabled) != in.size()) return;
  const uint64_t value = load_le(in);
  switch (offset) {
    case VIRTIO_PCI_GUEST_FEATURES:
      // Only what was offered sticks (a legacy driver has no FEATURES_OK to be refused).
      core.write_driver_features_word(0, static_cast<uint32_t>(value) & core.device_features_word(0));
      break;
    case VIRTIO_PCI_QUEUE_PFN: core.write_legacy_pfn(static_cast<uint32_t>(value)); break;
    case VIRTIO_PCI_QUEUE_SEL: core.set_queue_select(static_cast<uint16_t>(value)); break;
    case VIRTIO_PCI_STATUS: core.write_status(static_cast<uint8_t>(value), /*legacy_interface=*/true); break;
    case VIRTIO_MSI_CONFIG_VECTOR: core.write_config_vector(static_cast<uint16_t>(value)); break;
    case VIRTIO_MSI_QUEUE_VECTOR: core.write_queue_vector(static_cast<uint16_t>(value)); break;
    default: break;  // host features, queue size, ISR: read-only; notify: caller
  }
}

std::optional<uint16_t> legacy_notify_queue(uint64_t offset, std::span<const uint8_t> in) {
  if (offset != kLegacyQueueNotify || in.size() != 2) return std::nullopt;
  return static_cast<uint16_t>(load_le(in));
}

}  // namespace wren::virtio_pci
