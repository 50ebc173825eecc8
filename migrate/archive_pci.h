#pragma once
// Serializers for PCI function state: MSI-X and the virtio-pci function.
#include "devices/pci/config_space.h"
#include "devices/pci/msix.h"
#include "migrate/archive.h"
#include "migrate/archive_virtio.h"
#include "virtio/pci/virtio_pci_device.h"

// Current versions (see archive.h); bump when a serializer gains a field.
WREN_ARCHIVE_VERSION(wren::pci::MsixTable::State, 1)
WREN_ARCHIVE_VERSION(wren::VirtioPciDevice::State, 2)

namespace wren::pci {

// v1: the table as the guest sees it and the pending bit array.
template <class A>
void serialize(A& ar, MsixTable::State& s, std::uint32_t version) {
  migrate::require_version<MsixTable::State>(version, "MsixTable::State");
  migrate::field_bytes(ar, "table", s.table, size_t{kMsixMaxVectors} * kMsixEntrySize);
  migrate::field_vector(ar, "pending", s.pending, (kMsixMaxVectors + 63) / 64);
}

}  // namespace wren::pci

namespace wren {

// Config space image, MSI-X, transport registers (laid out by `version`,
// archive_virtio.h). v2: each queue's MSI-X vector once.
template <class A>
void serialize(A& ar, VirtioPciDevice::State& s, std::uint32_t version) {
  migrate::require_version<VirtioPciDevice::State>(version, "VirtioPciDevice::State");
  migrate::field_bytes(ar, "pci_config", s.pci_config, pci::PciConfigSpace::kSize);
  migrate::field(ar, "msix", s.msix);
  migrate::field_object(ar, "transport", [&] { serialize_transport(ar, s.transport, version); });
}

}  // namespace wren
