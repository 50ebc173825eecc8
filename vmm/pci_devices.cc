#include "vmm/pci_devices.h"

#include <stdexcept>

#include "devices/pci/bus.h"
#include "devices/pci/config_io_port.h"
#include "devices/pci/ecam.h"
#include "devices/pci/irqfd_msi.h"
#include "virtio/transport_ioeventfd.h"
#include "virtio/transport_pci.h"
#include "vmm/api_server.h"
#include "vmm/core/layout.h"
#include "vmm/kvm_interrupts.h"

namespace wren {

PciDevices::PciDevices(Vm& vm, IoBus& pio, IoBus& mmio, GuestMemory& memory, EventLoop& loop, OutcomeLatch& outcome,
                       const std::vector<NetConfig>& nets)
    : vm_(vm), memory_(memory), loop_(loop) {
  std::array<IrqLine*, 4> lines{};
  for (uint32_t i = 0; i < 4; ++i) {
    intx_lines_[i] = std::make_unique<KvmIrqLine>(vm, layout::kPciIntxFirstGsi + i);
    lines[i] = intx_lines_[i].get();
  }
  bus_ = std::make_unique<pci::PciBus>(mmio, pio, lines);
  auto cf8 = std::make_shared<pci::PciConfigIoPort>(
      *bus_, [&outcome] { outcome.report({VmOutcome::Kind::Reset, 0, "guest reset the machine (port 0xcf9)"}); });
  if (!pio.insert(layout::kPortPciConfigAddr, pci::PciConfigIoPort::kLength, cf8) ||
      !mmio.insert(layout::kPciEcamStart, layout::kPciEcamSize, std::make_shared<pci::PciEcam>(*bus_)))
    throw std::logic_error("PCI configuration ranges overlap another device");

  gsi_api_ = std::make_unique<pci::VmGsiRoutingApi>(vm);
  gsi_routes_ = std::make_unique<pci::GsiRouteTable>(*gsi_api_);
  ioeventfd_api_ = std::make_unique<VmIoeventfdApi>(vm);
  notify_wiring_ = std::make_shared<IoeventfdNotifyWiring>(*ioeventfd_api_, loop);
  for (size_t i = 0; i < nets.size(); ++i) add_net(nets[i], i);
}

PciDevices::~PciDevices() = default;

void PciDevices::add_net(const NetConfig&, size_t) {
  throw std::runtime_error("--net: virtio-net is not wired into the machine yet");
}

void PciDevices::start() {}

void PciDevices::register_api(ApiServer&) {}

}  // namespace wren
