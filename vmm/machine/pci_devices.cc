#include "vmm/machine/pci_devices.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <stdexcept>

#include "devices/pci/bus.h"
#include "devices/pci/config_io_port.h"
#include "devices/pci/ecam.h"
#include "devices/pci/irqfd_msi.h"
#include "hypervisor/kvm_irq_line.h"
#include "hypervisor/layout.h"
#include "migrate/kinds.h"
#include "migrate/nic_payloads.h"
#include "virtio/blk/blk_device.h"
#include "virtio/net/net_device.h"
#include "virtio/net/tap.h"
#include "virtio/pci/ioeventfd.h"
#include "virtio/pci/virtio_pci_device.h"
#include "vmm/api/api_server.h"
#include "vmm/api/disk_report.h"
#include "vmm/api/nic_report.h"

namespace wren {

PciDevices::PciDevices(Vm& vm, IoBus& pio, IoBus& mmio, GuestMemory& memory, EventLoop& loop, OutcomeLatch& outcome,
                       const std::vector<NetConfig>& nets, const std::vector<DiskConfig>& disks, bool incoming)
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
  for (size_t i = 0; i < disks.size(); ++i) add_disk(disks[i], i, incoming);
}

// The functions hold irqfd vectors and ioeventfd watches that call back into
// the routing and notify APIs: they must go before those APIs do.
PciDevices::~PciDevices() {
  *alive_ = false;
  nics_.clear();
  disks_.clear();
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
  options.mac_lock = config.mac_lock;
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

void PciDevices::add_disk(const DiskConfig& config, size_t index, bool incoming) {
  BlkDeviceOptions options;
  options.name = "disk" + std::to_string(index);
  options.serial = config.serial.empty() ? "wren-" + options.name : config.serial;
  options.queues = config.queues;
  blk::ImageOptions image_options;
  image_options.path = config.path;
  image_options.read_only = config.read_only;
  image_options.cache = config.direct ? blk::CacheMode::None : blk::CacheMode::Writeback;
  image_options.lock = !incoming;
  std::shared_ptr<BlkDevice> blk;
  try {
    blk = BlkDevice::create(options, blk::ImageFile::open(image_options), loop_.context());
  } catch (const blk::ImageError& e) {
    throw std::runtime_error(std::string("--disk: ") + e.what());
  } catch (const std::system_error& e) {
    throw std::runtime_error("--disk " + config.path + ": cannot set up io_uring: " + e.what());
  }
  auto msi =
      std::make_shared<pci::IrqfdMsiVectorSink>(*gsi_routes_, *gsi_api_, VirtioPciDevice::msix_vector_count(*blk));
  auto fn = VirtioPciDevice::create(blk, config.transitional ? VirtioPciMode::kTransitional : VirtioPciMode::kModern,
                                    memory_, msi, notify_wiring_);
  bus_->add_device(fn);
  disks_.push_back({options.name, blk, fn});
}

void PciDevices::start() { lock_disks_when_free(); }

void PciDevices::lock_disks_when_free() {
  bool waiting = false;
  for (auto& disk : disks_) {
    try {
      disk.blk->lock_image();
    } catch (const blk::ImageError&) {
      waiting = true;
    }
  }
  if (!waiting) return;
  // The migration source drops its locks when it exits, right after the
  // hand-over: retry for a while, warning once.
  static constexpr int kTries = 300;  // 30 s
  auto timer = std::make_shared<boost::asio::steady_timer>(loop_.context());
  auto tries = std::make_shared<int>(0);
  auto retry = std::make_shared<std::function<void()>>();
  *retry = [this, timer, tries, retry, alive = std::weak_ptr<bool>(alive_)] {
    timer->expires_after(std::chrono::milliseconds(100));
    timer->async_wait([this, timer, tries, retry, alive](const boost::system::error_code& ec) {
      if (ec || alive.expired()) return;
      bool pending = false;
      for (auto& disk : disks_) {
        try {
          disk.blk->lock_image();
        } catch (const blk::ImageError& e) {
          pending = true;
          if (++*tries == kTries) spdlog::error("{}; the guest runs with the image unlocked", e.what());
        }
      }
      if (pending && *tries < kTries)
        (*retry)();
      else
        *retry = nullptr;  // break the cycle
    });
  };
  spdlog::info("waiting for the migration source to release the disk images");
  (*retry)();
}

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
  api.add_command("query-disks", [this](const nlohmann::json& args) {
    auto out = nlohmann::json::array();
    const std::string wanted = args.value("name", "");
    for (const auto& disk : disks_)
      if (wanted.empty() || wanted == disk.id) out.push_back(disk_json(disk.blk->report()));
    if (!wanted.empty() && out.empty()) throw ApiError("DeviceNotFound", "no disk named '" + wanted + "'");
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
  for (auto& disk : disks_) {
    // The device first: it waits for its I/O, and the transport's queue
    // positions then include every request it recorded.
    auto blk_state = disk.blk->save();
    out.push_back(migrate::make_payload(migrate::kinds::kVirtioPci, disk.id, disk.transport->save()));
    out.push_back(migrate::make_payload(migrate::kinds::kBlkDevice, disk.id, blk_state));
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
  for (auto& disk : disks_) {
    auto blk_state = import.take(migrate::kinds::kBlkDevice, disk.id);
    if (!blk_state) throw std::runtime_error(blk_state.error());
    if (auto problem = disk.blk->restore(*blk_state))
      throw std::runtime_error(std::string(migrate::kinds::kBlkDevice.name) + " '" + disk.id + "': " + *problem);
    auto transport_state = import.take(migrate::kinds::kVirtioPci, disk.id);
    if (!transport_state) throw std::runtime_error(transport_state.error());
    if (!disk.transport->restore(*transport_state))
      throw std::runtime_error(std::string(migrate::kinds::kVirtioPci.name) + " '" + disk.id +
                               "': refused by the device");
  }
  bus_->refresh_mappings();
}

OfferedDevices PciDevices::offered() const {
  OfferedDevices out;
  for (const auto& nic : nics_) out.nic_features.push_back(nic.net->device_features());
  for (const auto& disk : disks_)
    out.disks.push_back({disk.blk->device_features(), disk.blk->image().size(), disk.blk->serial()});
  return out;
}

void PciDevices::announce_nics() {
  for (auto& nic : nics_) nic.net->announce();
}

}  // namespace wren
