#include "virtio/net/host_filter.h"

#include <algorithm>

namespace wren {

std::string_view to_string(HostRxLevel level) {
  switch (level) {
    case HostRxLevel::None: return "none";
    case HostRxLevel::Multicast: return "multicast";
    case HostRxLevel::All: return "all";
  }
  return "unknown";
}

bool HostFilter::passes(const MacAddress& dest) const {
  auto listed = [&dest](const std::vector<MacAddress>& v) { return std::find(v.begin(), v.end(), dest) != v.end(); };
  switch (level) {
    case HostRxLevel::All: return true;
    case HostRxLevel::Multicast: return dest.is_multicast() || listed(unicast);
    case HostRxLevel::None: return listed(unicast) || listed(multicast);
  }
  return true;
}

HostFilter compute_host_filter(const RxFilter& f, bool ctrl_rx_negotiated) {
  HostFilter out;
  // Every unicast address can arrive: only "everything" covers that.
  if (f.promisc || ((f.alluni || f.uni_overflow) && !f.nouni)) return out;

  const bool all_multicast = !ctrl_rx_negotiated || ((f.allmulti || f.multi_overflow) && !f.nomulti);
  out.level = all_multicast ? HostRxLevel::Multicast : HostRxLevel::None;

  // The primary MAC stays listed even under NOUNI: an exact list never
  // empties (an empty TAP filter means "no filter"), and accept() drops it.
  out.unicast.push_back(f.mac);
  if (!f.nouni)
    for (const auto& m : f.unicast)
      if (std::find(out.unicast.begin(), out.unicast.end(), m) == out.unicast.end()) out.unicast.push_back(m);

  if (out.level == HostRxLevel::None) {
    if (!f.nobcast) out.multicast.push_back(MacAddress::broadcast());
    if (!f.nomulti)
      for (const auto& m : f.multicast)
        if (std::find(out.multicast.begin(), out.multicast.end(), m) == out.multicast.end()) out.multicast.push_back(m);
  }
  return out;
}

}  // namespace wren
