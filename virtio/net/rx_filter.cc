#include "virtio/net/rx_filter.h"

#include <algorithm>

namespace wren {

std::string_view to_string(RxVerdict verdict) {
  switch (verdict) {
    case RxVerdict::Accept: return "accept";
    case RxVerdict::DropRunt: return "runt";
    case RxVerdict::DropVlan: return "vlan";
    case RxVerdict::DropBroadcast: return "broadcast";
    case RxVerdict::DropMulticast: return "multicast";
    case RxVerdict::DropUnicast: return "unicast";
  }
  return "unknown";
}

RxFilter RxFilter::after_reset(MacAddress mac, bool vlan_filtering) {
  RxFilter f;
  f.mac = mac;
  f.vlan_filtering = vlan_filtering;
  return f;
}

void RxFilter::set_vlan(uint16_t vid, bool allowed) {
  if (vid >= kVlanIds) return;
  const uint64_t bit = uint64_t{1} << (vid % 64);
  if (allowed)
    vlans[vid / 64] |= bit;
  else
    vlans[vid / 64] &= ~bit;
}

std::vector<uint16_t> RxFilter::vlan_ids() const {
  std::vector<uint16_t> ids;
  for (uint16_t vid = 0; vid < kVlanIds; ++vid)
    if (vlan_allowed(vid)) ids.push_back(vid);
  return ids;
}

// Order as in the virtio spec and QEMU's receive filter: promiscuous mode
// first, then the VLAN tag, then broadcast / multicast / unicast.
RxVerdict RxFilter::classify(std::span<const uint8_t> frame) const {
  if (promisc) return RxVerdict::Accept;
  if (frame.size() < kEthHeaderLen) return RxVerdict::DropRunt;

  const uint16_t ether_type = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  if (vlan_filtering && ether_type == kEtherTypeVlan) {
    if (frame.size() < kVlanTaggedHeaderLen) return RxVerdict::DropRunt;
    const uint16_t vid = static_cast<uint16_t>((frame[14] << 8 | frame[15]) & 0x0fff);
    if (!vlan_allowed(vid)) return RxVerdict::DropVlan;
  }

  const MacAddress dest = *MacAddress::from_bytes(frame);
  auto listed = [&dest](const std::vector<MacAddress>& table) {
    return std::find(table.begin(), table.end(), dest) != table.end();
  };

  if (dest.is_broadcast()) return nobcast ? RxVerdict::DropBroadcast : RxVerdict::Accept;
  if (dest.is_multicast()) {
    if (nomulti) return RxVerdict::DropMulticast;
    if (allmulti || multi_overflow || listed(multicast)) return RxVerdict::Accept;
    return RxVerdict::DropMulticast;
  }
  if (nouni) return RxVerdict::DropUnicast;
  if (alluni || uni_overflow || dest == mac || listed(unicast)) return RxVerdict::Accept;
  return RxVerdict::DropUnicast;
}

std::optional<std::string> RxFilter::validate() const {
  if (!mac.is_valid_station()) return "primary MAC " + mac.to_string() + " is not a unicast station address";
  if (unicast.size() + multicast.size() > kMacTableEntries)
    return "MAC table holds " + std::to_string(unicast.size() + multicast.size()) + " entries (max " +
           std::to_string(kMacTableEntries) + ")";
  for (const auto& m : unicast)
    if (!m.is_unicast()) return "multicast address " + m.to_string() + " in the unicast table";
  for (const auto& m : multicast)
    if (!m.is_multicast()) return "unicast address " + m.to_string() + " in the multicast table";
  if (uni_overflow && !unicast.empty()) return "unicast table overflowed but not empty";
  if (multi_overflow && !multicast.empty()) return "multicast table overflowed but not empty";
  if (!vlan_filtering && std::any_of(vlans.begin(), vlans.end(), [](uint64_t w) { return w != 0; }))
    return "VLAN table not empty while VLAN filtering is off";
  return std::nullopt;
}

}  // namespace wren
