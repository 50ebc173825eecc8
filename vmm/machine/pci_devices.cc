#include "vmm/machine/pci_devices.h"

#include <stdexcept>

#include "devices/pci/bus.h"
#include "devices/pci/config_io_port.h"
#include "devices/pci/ecam.h"
#include "devices/pci/irqfd_msi.h"
#include "hypervisor/kvm_irq_line.h"
#include "hypervisor/layout.h"
#include "migrate/kinds.h"
#include "migrate/nic_payloads.h"
#include "virtio/net/net_device.h"
#include "virtio/net/tap.h"
#include "virtio/pci/ioeventfd.h"
#include "virtio/pci/virtio_pci_device.h"
#include "vmm/api/api_server.h"
#include "vmm/api/nic_report.h"

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
  auto cf8 = std::make_shared<pci::PciConfigIoPort>(*bus_, [&outcome] {
    outcome.report({VmOutcome::Kind::Reset, 0, "guest reset the machine (port 0xcf9)"});
  });
  if (!pio.insert(layout::kPortPciConfigAddr, pci::PciConfigIoPort::kLength, cf8) ||
      !mmio.insert(layout::kPciEcamStart, layout::kPciEcamSize, std::make_shared<pci::PciEcam>(*bus_)))
    throw std::logic_error("PCI configuration ranges overlap another device");

  gsi_api_ = std::make_unique<pci::VmGsiRoutingApi>(vm);
  gsi_routes_ = std::make_unique<pci::GsiRouteTable>(*gsi_api_);
  ioeventfd_api_ = std::make_unique<VmIoeventfdApi>(vm);
  notify_wiring_ = std::make_shared<IoeventfdNotifyWiring>(*ioeventfd_api_, loop);
  for (size_t i = 0; i < nets.size(); ++i) add_net(nets[i], i);
}

// The functions hold irqfd vectors and ioeventfd watches that call back into
// the routing and notify APIs: they must go before those APIs do.
PciDevices::~PciDevices() {
  nics_.clear();
  bus_.reset();
}

void PciDevices::add_net(const NetConfig& config, size_t index) {
  NetDeviceOptions options;
  options.name = "net" + std::to_string(index);
  // Locally administered default: 52:54:00:12:34:56, :57, ... per NIC.
  const std::string mac = config.mac.value_or("52:54:00:12:34:" + std::to_string(56 + index));
  auto parsed = MacAddress::parse(mac);
  if (!parsed) throw std::runtime_error("--net: invalid mac '" + mac + "'");
  options.mac = *parsed;
  options.queue_pairs = config.queue_pairs;
  options.mac_change = config.mac_change;
  std::unique_ptr<Tap> tap;
  try {
    tap = Tap::open(config.tap, config.queue_pairs);
  } catch (const TapError& e) {
    throw std::runtime_error(std::string("--net: ") + e.what());
  }
  auto net = NetDevice::create(options, std::move(tap), loop_.context());
  auto msi =
      std::make_shared<pci::IrqfdMsiVectorSink>(*gsi_routes_, *gsi_api_, VirtioPciDevice::msix_vector_count(*net));
  auto fn = VirtioPciDevice::create(net, config.transitional ? VirtioPciMode::kTransitional : VirtioPciMode::kModern,
                                    memory_, msi, notify_wiring_);
  bus_->add_device(fn);
  nics_.push_back({options.name, net, fn});
}

void PciDevices::start() {}

void PciDevices::register_api(ApiServer& api) {
  api.add_command("query-rx-filter", [this](const nlohmann::json& args) {
    auto out = nlohmann::json::array();
    const std::string wanted = args.value("name", "");
    for (const auto& nic : nics_) {
      if (!wanted.empty() && wanted != nic.id) continue;
      auto j = rx_filter_json(nic.net->query_rx_filter());
      j["wren"]["transport"] = transport_json(nic.transport->status());
      out.push_back(std::move(j));
    }
    if (!wanted.empty() && out.empty()) throw ApiError("DeviceNotFound", "no NIC named '" + wanted + "'");
    return out;
  });
  api.add_command("query-counters", [this](const nlohmann::json&) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& nic : nics_) out[nic.id] = counters_json(nic.net->counters());
    return out;
  });
  for (auto& nic : nics_) {
    nic.net->set_rx_filter_listener([&api, net = std::weak_ptr<NetDevice>(nic.net)](const std::string& name) {
      // QEMU's data (name, QOM path), then Wren's filter view as an extra member.
      nlohmann::json data = {{"name", name}, {"path", "/machine/peripheral/" + name + "/virtio-backend"}};
      if (auto n = net.lock()) data["rx_filter"] = rx_filter_json(n->query_rx_filter());
      api.emit("NIC_RX_FILTER_CHANGED", std::move(data));
    });
  }
}

std::vector<migrate::Payload> PciDevices::save_payloads() {
  std::vector<migrate::Payload> out;
  for (auto& nic : nics_) {
    out.push_back(migrate::make_payload(migrate::kinds::kVirtioPci, nic.id, nic.transport->save()));
    for (auto& p : migrate::kinds::net_device_payloads(nic.id, nic.net->save())) out.push_back(std::move(p));
  }
  return out;
}

void PciDevices::restore_payloads(migrate::Import& import) {
  // Every NIC's payloads are taken and cross-checked before any is restored.
  std::vector<migrate::NicState> states;
  for (auto& nic : nics_) {
    auto state = migrate::take_nic(import, nic.id, *nic.transport, *nic.net);
    if (!state) throw std::runtime_error(state.error());
    states.push_back(std::move(state).value());
  }
  for (size_t i = 0; i < nics_.size(); ++i) {
    auto& nic = nics_[i];
    if (auto restored = migrate::restore_nic(states[i], nic.id, *nic.transport, *nic.net); !restored)
      throw std::runtime_error(restored.error());
  }
  bus_->refresh_mappings();
}

std::vector<uint64_t> PciDevices::nic_offered_features() const {
  std::vector<uint64_t> out;
  for (const auto& nic : nics_) out.push_back(nic.net->device_features());
  return out;
}

void PciDevices::announce_nics() {
  for (auto& nic : nics_) nic.net->announce();
}

}  // namespace wren
