#include "vmm/api/nic_report.h"

#include <string>

namespace wren {

namespace {

nlohmann::json macs(const std::vector<MacAddress>& list) {
  auto out = nlohmann::json::array();
  for (const auto& m : list) out.push_back(m.to_string());
  return out;
}

nlohmann::json host_filter_json(const HostFilter& f) {
  return {{"level", std::string(to_string(f.level))}, {"unicast", macs(f.unicast)}, {"multicast", macs(f.multicast)}};
}

}  // namespace

nlohmann::json counters_json(const NetCounters& c) {
  nlohmann::json per_reason = nlohmann::json::object();
  for (size_t i = 1; i < kRxVerdictCount; ++i)
    per_reason[std::string(to_string(static_cast<RxVerdict>(i)))] = c.rx_filtered[i];
  return {{"rx_packets", c.rx_packets},
          {"rx_bytes", c.rx_bytes},
          {"rx_filtered", c.rx_filtered_total()},
          {"rx_filtered_by_reason", per_reason},
          {"rx_dropped_header", c.rx_dropped_header},
          {"rx_dropped_too_big", c.rx_dropped_too_big},
          {"rx_dropped_no_queue", c.rx_dropped_no_queue},
          {"rx_errors", c.rx_errors},
          {"tx_packets", c.tx_packets},
          {"tx_bytes", c.tx_bytes},
          {"tx_dropped_header", c.tx_dropped_header},
          {"tx_dropped_too_big", c.tx_dropped_too_big},
          {"tx_dropped_spoofed", c.tx_dropped_spoofed},
          {"tx_errors", c.tx_errors},
          {"ctrl_ok", c.ctrl_ok},
          {"ctrl_err", c.ctrl_err},
          {"ctrl_malformed", c.ctrl_malformed},
          {"host_filter_failures", c.host_filter_failures}};
}

nlohmann::json rx_filter_json(const RxFilterReport& r) {
  const auto& f = r.filter;
  // QEMU's RxFilterInfo (qapi/net.json), mapped from the flags as QEMU's
  // virtio-net does: "no" wins over "all" for a class; with VLAN filtering,
  // an empty table lets no tagged frame in. Unlike QEMU 7.2, which reports
  // the NOBCAST flag itself, broadcast-allowed means what its name says.
  auto state = [](bool none, bool all) { return none ? "none" : all ? "all" : "normal"; };
  const auto vlans = f.vlan_ids();
  return {{"name", r.name},
          {"promiscuous", f.promisc},
          {"multicast", state(f.nomulti, f.allmulti)},
          {"unicast", state(f.nouni, f.alluni)},
          {"vlan", !f.vlan_filtering ? "all"
                   : vlans.empty()   ? "none"
                                     : "normal"},
          {"broadcast-allowed", !f.nobcast},
          {"multicast-overflow", f.multi_overflow},
          {"unicast-overflow", f.uni_overflow},
          {"main-mac", f.mac.to_string()},
          {"vlan-table", vlans},
          {"unicast-table", macs(f.unicast)},
          {"multicast-table", macs(f.multicast)},
          // Wren's own facts, under one member QEMU clients ignore.
          {"wren", wren_facts_json(r)}};
}

nlohmann::json wren_facts_json(const RxFilterReport& r) {
  const auto& f = r.filter;
  return {{"active", r.active},
          {"ctrl_rx", r.ctrl_rx},
          {"allmulti", f.allmulti},
          {"alluni", f.alluni},
          {"nomulti", f.nomulti},
          {"nouni", f.nouni},
          {"nobcast", f.nobcast},
          {"vlan_filtering", f.vlan_filtering},
          {"host_level", std::string(to_string(r.wanted.level))},
          {"host_filter", host_filter_json(r.wanted)},
          {"host_filter_installed", r.installed ? host_filter_json(*r.installed) : nlohmann::json(nullptr)},
          {"queue_pairs", r.queue_pairs},
          {"guest_offloads", r.guest_offloads},
          {"counters", counters_json(r.counters)}};
}

nlohmann::json transport_json(const VirtioPciDevice::Status& s) {
  return {{"mode", s.mode == VirtioPciMode::kTransitional ? "transitional" : "modern"},
          {"device_status", s.device_status},
          {"driver_features", s.driver_features},
          {"msix_enabled", s.msix_enabled}};
}

}  // namespace wren
