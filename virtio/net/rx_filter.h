#pragma once
// The guest-programmed receive filter of a virtio-net device (virtio 1.2,
// 5.1.6.5.1-3): RX mode flags, the MAC filter table and the VLAN filter.
//
// A plain value: every field is guest-visible state, so it is also the
// migration State. accept() is a pure function of it. After a device reset
// the filter is promiscuous (as virtio-net devices were before CTRL_RX
// existed); a driver that negotiated CTRL_RX narrows it with control commands.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "virtio/net/mac_address.h"

namespace wren {

// Why accept() turned a frame away (or that it did not).
enum class RxVerdict : uint8_t {
  Accept,
  DropRunt,       // shorter than an Ethernet (or 802.1Q-tagged) header
  DropVlan,       // tagged with a VLAN id the guest did not add
  DropBroadcast,  // NOBCAST
  DropMulticast,  // NOMULTI, or not in the multicast table
  DropUnicast,    // NOUNI, or neither our MAC nor in the unicast table
};
inline constexpr size_t kRxVerdictCount = 6;
std::string_view to_string(RxVerdict verdict);

struct RxFilter {
  // Total MAC table entries (unicast + multicast), as QEMU's MAC table.
  static constexpr size_t kMacTableEntries = 64;
  static constexpr uint16_t kVlanIds = 4096;
  static constexpr size_t kEthHeaderLen = 14;
  static constexpr size_t kVlanTaggedHeaderLen = 18;
  static constexpr uint16_t kEtherTypeVlan = 0x8100;

  MacAddress mac;  // the primary (station) address

  bool promisc = true;
  bool allmulti = false;
  bool alluni = false;
  bool nomulti = false;
  bool nouni = false;
  bool nobcast = false;

  // The MAC filter table. Each class holds only addresses of that class.
  // When the guest sent more than fit, the class's overflow flag is set, its
  // list is left empty, and every address of that class is accepted.
  std::vector<MacAddress> unicast;
  std::vector<MacAddress> multicast;
  bool uni_overflow = false;
  bool multi_overflow = false;

  // VLAN filtering is active only when CTRL_VLAN was negotiated; then a
  // tagged frame passes only if its VLAN id was added.
  bool vlan_filtering = false;
  std::array<uint64_t, kVlanIds / 64> vlans{};

  // The filter a device has after reset (or at power-on).
  static RxFilter after_reset(MacAddress mac, bool vlan_filtering);

  [[nodiscard]] bool accept(std::span<const uint8_t> frame) const { return classify(frame) == RxVerdict::Accept; }
  [[nodiscard]] RxVerdict classify(std::span<const uint8_t> frame) const;

  [[nodiscard]] bool vlan_allowed(uint16_t vid) const {
    return vid < kVlanIds && (vlans[vid / 64] >> (vid % 64) & 1) != 0;
  }
  // Precondition: vid < kVlanIds (callers validate guest input first).
  void set_vlan(uint16_t vid, bool allowed);
  std::vector<uint16_t> vlan_ids() const;

  // Checks the invariants a restored filter must satisfy (restored state is
  // untrusted): primary MAC a valid station address, table classes correct,
  // table within kMacTableEntries, overflowed class lists empty, no VLAN bits
  // beyond 4095 (none exist in the array), VLAN table empty when filtering is
  // off. Returns a description of the first violation.
  [[nodiscard]] std::optional<std::string> validate() const;

  friend bool operator==(const RxFilter&, const RxFilter&) = default;
};

}  // namespace wren
