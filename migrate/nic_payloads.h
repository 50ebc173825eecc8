#pragma once
// A virtio-net NIC's payloads taken back together: its virtio-pci/function
// and its virtio-net device describe one device, so besides each device's
// own checks they must agree with each other (issue 13): the net device is
// active exactly when the transport re-activates it, with the features the
// driver negotiated. Otherwise the import is refused before anything is
// restored; restoring such a pair would have the device drop its saved
// state at activation while the guest still believed in it.
#include <string_view>

#include "migrate/kinds.h"
#include "migrate/registry.h"
#include "virtio/net/net_device.h"
#include "virtio/pci/virtio_pci_device.h"

namespace wren::migrate {

struct NicState {
  VirtioPciDevice::State function;
  NetDevice::State net;
};

// Takes both payloads of `instance`, each checked by the destination's own
// device (VirtioPciDevice::validate, NetDevice::validate), then checks that
// they fit each other. Changes no device. Failures name the payloads.
[[nodiscard]] Expected<NicState> take_nic(Import& import, std::string_view instance, const VirtioPciDevice& function,
                                          const NetDevice& net);

// Restores a state take_nic() accepted: the net device first (the function's
// restore re-activates it, and activation adopts the state NetDevice::restore
// kept), then the function.
[[nodiscard]] Status restore_nic(const NicState& state, std::string_view instance, VirtioPciDevice& function,
                                 NetDevice& net);

}  // namespace wren::migrate
