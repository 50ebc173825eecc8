#pragma once
// Serializers for virtio-net guest-visible state. A net device contributes
// two payloads: virtio-net/device (NetDevice::State without the receive
// filter) and virtio-net/rx-filter (the RxFilter), so the filter is
// versioned on its own (kinds.h: net_device_payloads / take_net_device).
//
// RxFilter versions (the compatibility demonstration of issue 5):
//   v1: MAC, the RX mode and overflow flags as one bitmask, the MAC tables,
//       the VLAN bitmap.
//   v2: adds `vlan_filtering` (whether tagged frames are filtered at all).
//       A v1 payload predates it: filtering is taken to be on exactly when
//       the VLAN table is non-empty (RxFilter::validate requires an empty
//       table with filtering off); the net device, which knows whether
//       CTRL_VLAN was negotiated, may correct it (see kinds.h).
// Flags with bits this version does not define are refused, never dropped.
#include <array>
#include <string>

#include "migrate/archive.h"
#include "virtio/net/ctrl_command.h"
#include "virtio/net/mac_address.h"
#include "virtio/net/net_device.h"
#include "virtio/net/rss.h"
#include "virtio/net/rx_filter.h"

WREN_ARCHIVE_VERSION(wren::RxFilter, 2)
WREN_ARCHIVE_VERSION(wren::RssConfig, 1)
WREN_ARCHIVE_VERSION(wren::NetDevice::State, 1)

namespace wren {

// A MAC is one value: 48 bits in a u64 on the wire, "aa:bb:cc:dd:ee:ff" in JSON.
inline std::uint64_t save_minimal(const cereal::BinaryOutputArchive&, const MacAddress& mac) {
  std::uint64_t v = 0;
  for (size_t i = 0; i < MacAddress::kSize; ++i) v |= std::uint64_t{mac.bytes[i]} << (8 * i);
  return v;
}
inline void load_minimal(const cereal::BinaryInputArchive&, MacAddress& mac, const std::uint64_t& v) {
  if (v >> 48) throw migrate::DecodeError("MAC address with bits above 48");
  for (size_t i = 0; i < MacAddress::kSize; ++i) mac.bytes[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::string save_minimal(const cereal::JSONOutputArchive&, const MacAddress& mac) { return mac.to_string(); }

namespace rx_filter_wire {
inline constexpr std::uint32_t kPromisc = 1u << 0;
inline constexpr std::uint32_t kAllMulti = 1u << 1;
inline constexpr std::uint32_t kAllUni = 1u << 2;
inline constexpr std::uint32_t kNoMulti = 1u << 3;
inline constexpr std::uint32_t kNoUni = 1u << 4;
inline constexpr std::uint32_t kNoBcast = 1u << 5;
inline constexpr std::uint32_t kUniOverflow = 1u << 6;
inline constexpr std::uint32_t kMultiOverflow = 1u << 7;
inline constexpr std::uint32_t kKnown = (1u << 8) - 1;  // v1 and v2
}  // namespace rx_filter_wire

template <class A>
void serialize(A& ar, RxFilter& f, std::uint32_t version) {
  namespace w = rx_filter_wire;
  migrate::require_version<RxFilter>(version, "RxFilter");
  migrate::field(ar, "mac", f.mac);
  if constexpr (migrate::kText<A>) {
    // Readable names in the dump; the wire has the bitmask.
    migrate::field(ar, "promisc", f.promisc);
    migrate::field(ar, "allmulti", f.allmulti);
    migrate::field(ar, "alluni", f.alluni);
    migrate::field(ar, "nomulti", f.nomulti);
    migrate::field(ar, "nouni", f.nouni);
    migrate::field(ar, "nobcast", f.nobcast);
    migrate::field(ar, "uni_overflow", f.uni_overflow);
    migrate::field(ar, "multi_overflow", f.multi_overflow);
  } else if constexpr (migrate::kLoading<A>) {
    std::uint32_t flags = 0;
    migrate::field(ar, "flags", flags);
    if (flags & ~w::kKnown)
      throw migrate::DecodeError("RxFilter: flags with unknown bits " + std::to_string(flags & ~w::kKnown));
    f.promisc = flags & w::kPromisc;
    f.allmulti = flags & w::kAllMulti;
    f.alluni = flags & w::kAllUni;
    f.nomulti = flags & w::kNoMulti;
    f.nouni = flags & w::kNoUni;
    f.nobcast = flags & w::kNoBcast;
    f.uni_overflow = flags & w::kUniOverflow;
    f.multi_overflow = flags & w::kMultiOverflow;
  } else {
    std::uint32_t flags = (f.promisc ? w::kPromisc : 0) | (f.allmulti ? w::kAllMulti : 0) |
                          (f.alluni ? w::kAllUni : 0) | (f.nomulti ? w::kNoMulti : 0) | (f.nouni ? w::kNoUni : 0) |
                          (f.nobcast ? w::kNoBcast : 0) | (f.uni_overflow ? w::kUniOverflow : 0) |
                          (f.multi_overflow ? w::kMultiOverflow : 0);
    migrate::field(ar, "flags", flags);
  }
  migrate::field_vector(ar, "unicast", f.unicast, RxFilter::kMacTableEntries);
  migrate::field_vector(ar, "multicast", f.multicast, RxFilter::kMacTableEntries);
  if constexpr (migrate::kText<A>) {
    std::vector<std::uint16_t> ids = f.vlan_ids();
    migrate::field_vector(ar, "vlans", ids, RxFilter::kVlanIds);
  } else {
    migrate::field_blob(ar, "vlans", f.vlans.data(), sizeof f.vlans);
  }
  if (version >= 2) {
    migrate::field(ar, "vlan_filtering", f.vlan_filtering);
  } else if constexpr (migrate::kLoading<A>) {
    f.vlan_filtering = !f.vlan_ids().empty();
  }
}

// v1: every field; the key and indirection table bounded by the device maxima.
template <class A>
void serialize(A& ar, RssConfig& r, std::uint32_t version) {
  migrate::require_version<RssConfig>(version, "RssConfig");
  migrate::field(ar, "enabled", r.enabled);
  migrate::field(ar, "steering", r.steering);
  migrate::field(ar, "hash_types", r.hash_types);
  migrate::field(ar, "unclassified_queue", r.unclassified_queue);
  migrate::field_vector(ar, "indirection_table", r.indirection_table, kRssMaxIndirectionTableLength);
  migrate::field_bytes(ar, "key", r.key, kRssMaxKeySize);
}

// Largest queue a device may have (virtio: 32768 entries).
inline constexpr size_t kArchiveMaxQueueSize = 32768;

// v1: every field except control.rx_filter, which is its own payload (left
// default here; take_net_device puts the decoded filter in).
template <class A>
void serialize(A& ar, NetDevice::State& s, std::uint32_t version) {
  migrate::require_version<NetDevice::State>(version, "NetDevice::State");
  migrate::field(ar, "link_up", s.link_up);
  migrate::field(ar, "active", s.active);
  migrate::field(ar, "features", s.features);
  migrate::field(ar, "queue_pairs", s.control.queue_pairs);
  migrate::field(ar, "guest_offloads", s.control.guest_offloads);
  migrate::field(ar, "announce_pending", s.control.announce_pending);
  migrate::field(ar, "rss", s.control.rss);
  migrate::field_nested_vectors(ar, "rx_held", s.rx_held, kNetMaxQueuePairs, kArchiveMaxQueueSize);
}

}  // namespace wren
