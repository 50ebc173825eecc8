#pragma once
// The virtio-net control queue as a pure state transition (virtio 1.2,
// 5.1.6.5): (negotiated features, class, command, command data, current
// state) -> (ack, new state, what changed).
//
// The caller copies the command header and data out of guest memory first
// (bounded by the bytes actually present) and writes the ack back; nothing
// here touches guest memory. A command is refused (VIRTIO_NET_ERR, state
// unchanged) if its feature was not negotiated, its class or command is
// unknown, its data has the wrong length, or any value in it is invalid.
#include "virtio/net/virtio_net_abi.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "virtio/net/net_features.h"
#include "virtio/net/rss.h"
#include "virtio/net/rx_filter.h"

namespace wren {

// Device limits that bound command values (from the device configuration).
struct NetControlLimits {
  uint16_t max_queue_pairs = 1;  // 1..0x8000
  uint8_t rss_max_key_size = kRssMaxKeySize;
  uint16_t rss_max_indirection_table_length = kRssMaxIndirectionTableLength;
  uint32_t supported_hash_types = kRssSupportedHashTypes;
};

// Everything the control queue can change: plain guest-visible state.
struct NetControlState {
  RxFilter rx_filter;
  uint16_t queue_pairs = 1;       // active queue pairs (VQ_PAIRS_SET / RSS max_tx_vq)
  uint64_t guest_offloads = 0;    // enabled guest offloads, in feature-bit positions
  bool announce_pending = false;  // VIRTIO_NET_S_ANNOUNCE in config status
  RssConfig rss;

  // The state when the driver sets DRIVER_OK with `features`: reset filter
  // (VLAN filtering iff CTRL_VLAN), one queue pair, every negotiated guest
  // offload enabled, no RSS.
  static NetControlState initial(MacAddress mac, uint64_t features);

  // Checks a restored state against the negotiated features and limits like
  // guest input: every field must be reachable from initial() by valid
  // commands. Returns the first violation.
  [[nodiscard]] std::optional<std::string> validate(uint64_t features, const NetControlLimits& limits) const;

  friend bool operator==(const NetControlState&, const NetControlState&) = default;
};

// Why a command was refused.
enum class CtrlError : uint8_t {
  None,
  FeatureNotNegotiated,  // the command's feature bit (or CTRL_VQ) is missing
  UnknownClass,
  UnknownCommand,
  BadLength,            // data shorter or longer than the command's layout
  MacCountExceedsData,  // a MAC table count needs more bytes than were sent
  MulticastInUnicastTable,
  UnicastInMulticastTable,
  InvalidMacAddress,     // MAC_ADDR_SET with a multicast or all-zero address
  VlanIdOutOfRange,      // >= 4096
  QueuePairsOutOfRange,  // not in 1..max_queue_pairs
  RssTableLength,        // not a power of two, or above the device maximum
  RssQueueOutOfRange,    // table entry or unclassified queue >= max_queue_pairs
  RssKeyTooLong,
  RssKeyMissing,          // hash types enabled with an empty key
  RssHashTypes,           // a hash type the device does not support
  OffloadsNotNegotiated,  // enabling an offload whose feature is not negotiated
};
std::string_view to_string(CtrlError error);

struct CtrlOutcome {
  uint8_t ack = VIRTIO_NET_ERR;  // VIRTIO_NET_OK / VIRTIO_NET_ERR
  CtrlError error = CtrlError::None;
  NetControlState state;  // the new state (a copy of the old one on error)
  // What changed, so the device can act (each false on error).
  bool rx_filter_changed = false;  // flags, MAC table, VLANs or primary MAC
  bool mac_changed = false;        // primary MAC (config space follows)
  bool queue_pairs_changed = false;
  bool offloads_changed = false;  // retune the TAP offloads
  bool rss_changed = false;
  bool announce_acked = false;

  bool ok() const { return ack == VIRTIO_NET_OK; }
};

[[nodiscard]] CtrlOutcome apply_ctrl_command(uint64_t features, const NetControlLimits& limits, uint8_t cls,
                                             uint8_t cmd, std::span<const uint8_t> data,
                                             const NetControlState& current);

}  // namespace wren
