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
          {"tx_errors", c.tx_errors},
          {"ctrl_ok", c.ctrl_ok},
          {"ctrl_err", c.ctrl_err},
          {"ctrl_malformed", c.ctrl_malformed},
          {"host_filter_failures", c.host_filter_failures}};
}

nlohmann::json rx_filter_json(const RxFilterReport& r) {
  const auto& f = r.filter;
  return {{"name", r.name},
          {"active", r.active},
          {"ctrl_rx", r.ctrl_rx},
          {"main_mac", f.mac.to_string()},
          {"promiscuous", f.promisc},
          {"allmulti", f.allmulti},
          {"alluni", f.alluni},
          {"nomulti", f.nomulti},
          {"nouni", f.nouni},
          {"nobcast", f.nobcast},
          {"unicast_table", macs(f.unicast)},
          {"multicast_table", macs(f.multicast)},
          {"unicast_overflow", f.uni_overflow},
          {"multicast_overflow", f.multi_overflow},
          {"vlan_filtering", f.vlan_filtering},
          {"vlans", f.vlan_ids()},
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
