#include "migrate/kinds.h"

namespace wren::migrate::kinds {

namespace {

std::optional<std::string> refused_if(bool bad, const char* what) {
  if (bad) return std::string(what);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_layout(const GuestMemoryLayout& layout) {
  if (layout.regions.empty()) return "no RAM regions";
  uint64_t end = 0;
  for (size_t i = 0; i < layout.regions.size(); ++i) {
    const auto& r = layout.regions[i];
    if (r.size == 0 || r.gpa % 4096 || r.size % 4096) return "RAM region not page aligned or empty";
    if (r.gpa + r.size < r.gpa) return "RAM region wraps around";
    if (i > 0 && r.gpa < end) return "RAM regions overlap or are unsorted";
    end = r.gpa + r.size;
  }
  return std::nullopt;
}

std::optional<std::string> check_uart(const Uart16550::State& s) {
  return refused_if(!Uart16550::valid(s), "UART state refused by the device");
}
std::optional<std::string> check_i8042(const I8042::State& s) {
  return refused_if(!I8042::valid(s), "i8042 state refused by the device");
}
std::optional<std::string> check_cmos(const CmosRtc::State& s) {
  return refused_if(!CmosRtc::valid(s), "CMOS state refused by the device");
}
std::optional<std::string> check_acpi_pm(const AcpiPm::State& s) {
  return refused_if(!AcpiPm::valid(s), "ACPI PM state refused by the device");
}
std::optional<std::string> check_hpet(const Hpet::State& s) {
  return refused_if(!Hpet::valid(s), "HPET state refused by the device");
}

std::optional<std::string> check_virtio_pci(const VirtioPciDevice::State& s) {
  if (s.pci_config.size() != pci::PciConfigSpace::kSize) return "PCI config image of the wrong size";
  if (s.msix.table.size() % pci::kMsixEntrySize) return "MSI-X table not a whole number of entries";
  const size_t vectors = s.msix.table.size() / pci::kMsixEntrySize;
  if (s.msix.pending.size() != (vectors + 63) / 64) return "MSI-X pending array does not match the table";
  return std::nullopt;
}

std::optional<std::string> check_vm(const VmState& s) { return check_vm_state(s); }

std::optional<std::string> check_blk_device(const BlkDevice::State& s) {
  if (s.queues == 0 || s.queues > kBlkMaxQueues) return "queue count out of range";
  if (s.in_flight.size() != s.queues) return "in-flight lists do not match the queue count";
  if (s.capacity_bytes % 512) return "capacity not a whole number of sectors";
  return std::nullopt;
}

const PayloadRegistry& default_registry() {
  static const PayloadRegistry registry = [] {
    PayloadRegistry r;
    r.add(kMemoryLayout);
    r.add(kVcpu);
    r.add(kVm);
    r.add(kUart);
    r.add(kI8042);
    r.add(kCmos);
    r.add(kAcpiPm);
    r.add(kHpet);
    r.add(kVirtioPci);
    r.add(kRxFilter);
    r.add(kNetDevice);
    r.add(kBlkDevice);
    return r;
  }();
  return registry;
}

std::vector<Payload> net_device_payloads(const std::string& instance, const NetDevice::State& state,
                                         uint32_t rx_filter_version) {
  return {make_payload(kNetDevice, instance, state),
          make_payload(kRxFilter, instance, state.control.rx_filter, rx_filter_version)};
}

Expected<NetDevice::State> take_net_device(Import& import, std::string_view instance) {
  auto device = import.take(kNetDevice, instance);
  if (!device) return Failure{device.error()};
  auto filter = import.take(kRxFilter, instance);
  if (!filter) return Failure{filter.error()};
  NetDevice::State state = std::move(device).value();
  state.control.rx_filter = std::move(filter).value();
  if (state.active && import.version(kRxFilter.name, instance) == 1u)
    state.control.rx_filter.vlan_filtering = has_feature(state.features, VIRTIO_NET_F_CTRL_VLAN);
  return state;
}

}  // namespace wren::migrate::kinds
