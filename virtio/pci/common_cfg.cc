#include "virtio/pci/common_cfg.h"

#include <linux/virtio_pci.h>

#include <algorithm>

#include "hypervisor/little_endian.h"

namespace wren::virtio_pci {

namespace {

// The queue address fields, as (low offset, part).
struct AddressField {
  uint64_t offset;
  TransportCore::RingPart part;
};
constexpr AddressField kAddressFields[] = {
    {VIRTIO_PCI_COMMON_Q_DESCLO, TransportCore::RingPart::kDesc},
    {VIRTIO_PCI_COMMON_Q_AVAILLO, TransportCore::RingPart::kDriver},
    {VIRTIO_PCI_COMMON_Q_USEDLO, TransportCore::RingPart::kDevice},
};

uint64_t queue_address(const Queue& q, TransportCore::RingPart part) {
  switch (part) {
    case TransportCore::RingPart::kDesc: return q.desc_addr();
    case TransportCore::RingPart::kDriver: return q.avail_addr();
    case TransportCore::RingPart::kDevice: return q.used_addr();
  }
  return 0;
}

// Matches a 64-bit field access: the whole field (8 bytes) or one 32-bit
// half. Sets `shift` and `mask` of the part of the field being accessed.
const AddressField* match_address(uint64_t offset, size_t width, unsigned& shift, uint64_t& mask) {
  for (const auto& f : kAddressFields) {
    if (offset == f.offset && width == 8) {
      shift = 0;
      mask = ~uint64_t{0};
      return &f;
    }
    if ((offset == f.offset || offset == f.offset + 4) && width == 4) {
      shift = static_cast<unsigned>(8 * (offset - f.offset));
      mask = uint64_t{0xffffffff} << shift;
      return &f;
    }
  }
  return nullptr;
}

// Natural width of the scalar field at `offset`, 0 if none starts there.
size_t field_width(uint64_t offset) {
  switch (offset) {
    case VIRTIO_PCI_COMMON_DFSELECT:
    case VIRTIO_PCI_COMMON_DF:
    case VIRTIO_PCI_COMMON_GFSELECT:
    case VIRTIO_PCI_COMMON_GF: return 4;
    case VIRTIO_PCI_COMMON_MSIX:
    case VIRTIO_PCI_COMMON_NUMQ:
    case VIRTIO_PCI_COMMON_Q_SELECT:
    case VIRTIO_PCI_COMMON_Q_SIZE:
    case VIRTIO_PCI_COMMON_Q_MSIX:
    case VIRTIO_PCI_COMMON_Q_ENABLE:
    case VIRTIO_PCI_COMMON_Q_NOFF:
    case VIRTIO_PCI_COMMON_Q_NDATA:
    case VIRTIO_PCI_COMMON_Q_RESET: return 2;
    case VIRTIO_PCI_COMMON_STATUS:
    case VIRTIO_PCI_COMMON_CFGGENERATION: return 1;
    default: return 0;
  }
}

}  // namespace

void common_cfg_read(TransportCore& core, uint64_t offset, std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), 0);
  const Queue* q = core.selected_queue();

  unsigned shift = 0;
  uint64_t mask = 0;
  if (const auto* f = match_address(offset, out.size(), shift, mask)) {
    if (q) store_le(out, (queue_address(*q, f->part) & mask) >> shift);
    return;
  }
  // A narrower read at a field's start returns its low bytes, as QEMU does:
  // Debian's iPXE (1.0.0+git-20190125) reads device_feature 16 bits at a time.
  if (field_width(offset) < out.size()) return;

  uint64_t value = 0;
  switch (offset) {
    case VIRTIO_PCI_COMMON_DFSELECT: value = core.device_feature_select(); break;
    case VIRTIO_PCI_COMMON_DF: value = core.device_features_word(core.device_feature_select()); break;
    case VIRTIO_PCI_COMMON_GFSELECT: value = core.driver_feature_select(); break;
    case VIRTIO_PCI_COMMON_GF: value = core.driver_features_word(core.driver_feature_select()); break;
    case VIRTIO_PCI_COMMON_MSIX: value = core.config_vector(); break;
    case VIRTIO_PCI_COMMON_NUMQ: value = core.num_queues(); break;
    case VIRTIO_PCI_COMMON_STATUS: value = core.status(); break;
    case VIRTIO_PCI_COMMON_CFGGENERATION: value = core.config_generation(); break;
    case VIRTIO_PCI_COMMON_Q_SELECT: value = core.queue_select(); break;
    // A queue that does not exist reads size 0 (spec: "unavailable").
    case VIRTIO_PCI_COMMON_Q_SIZE: value = q ? q->size() : 0; break;
    case VIRTIO_PCI_COMMON_Q_MSIX: value = q ? core.queue_vector() : kNoVector; break;
    case VIRTIO_PCI_COMMON_Q_ENABLE: value = q && q->ready() ? 1 : 0; break;
    // Each queue has its own notify address: queue i at i * multiplier.
    case VIRTIO_PCI_COMMON_Q_NOFF: value = q ? core.queue_select() : 0; break;
    default: value = 0; break;  // queue_notify_data, queue_reset: features not offered
  }
  store_le(out, value);
}

void common_cfg_write(TransportCore& core, uint64_t offset, std::span<const uint8_t> in) {
  unsigned shift = 0;
  uint64_t mask = 0;
  if (const auto* f = match_address(offset, in.size(), shift, mask)) {
    core.write_queue_address(f->part, load_le(in) << shift, mask);
    return;
  }
  if (field_width(offset) != in.size()) return;
  const uint64_t value = load_le(in);
  switch (offset) {
    case VIRTIO_PCI_COMMON_DFSELECT: core.set_device_feature_select(static_cast<uint32_t>(value)); break;
    case VIRTIO_PCI_COMMON_GFSELECT: core.set_driver_feature_select(static_cast<uint32_t>(value)); break;
    case VIRTIO_PCI_COMMON_GF:
      core.write_driver_features_word(core.driver_feature_select(), static_cast<uint32_t>(value));
      break;
    case VIRTIO_PCI_COMMON_MSIX: core.write_config_vector(static_cast<uint16_t>(value)); break;
    case VIRTIO_PCI_COMMON_STATUS: core.write_status(static_cast<uint8_t>(value), /*legacy_interface=*/false); break;
    case VIRTIO_PCI_COMMON_Q_SELECT: core.set_queue_select(static_cast<uint16_t>(value)); break;
    case VIRTIO_PCI_COMMON_Q_SIZE: core.write_queue_size(static_cast<uint16_t>(value)); break;
    case VIRTIO_PCI_COMMON_Q_MSIX: core.write_queue_vector(static_cast<uint16_t>(value)); break;
    case VIRTIO_PCI_COMMON_Q_ENABLE: core.write_queue_enable(static_cast<uint16_t>(value)); break;
    default: break;  // read-only fields: device_feature, num_queues, config_generation, queue_notify_off, ...
  }
}

}  // namespace wren::virtio_pci
