#include "virtio/net/ctrl_command.h"

#include <algorithm>
#include <bit>

namespace wren {

std::string_view to_string(CtrlError error) {
  switch (error) {
    case CtrlError::None: return "ok";
    case CtrlError::FeatureNotNegotiated: return "feature not negotiated";
    case CtrlError::UnknownClass: return "unknown class";
    case CtrlError::UnknownCommand: return "unknown command";
    case CtrlError::BadLength: return "wrong data length";
    case CtrlError::MacCountExceedsData: return "MAC table count exceeds the data sent";
    case CtrlError::MulticastInUnicastTable: return "multicast address in the unicast table";
    case CtrlError::UnicastInMulticastTable: return "unicast address in the multicast table";
    case CtrlError::InvalidMacAddress: return "not a unicast station address";
    case CtrlError::VlanIdOutOfRange: return "VLAN id out of range";
    case CtrlError::QueuePairsOutOfRange: return "queue pairs out of range";
    case CtrlError::RssTableLength: return "bad indirection table length";
    case CtrlError::RssQueueOutOfRange: return "RSS queue out of range";
    case CtrlError::RssKeyTooLong: return "RSS key too long";
    case CtrlError::RssKeyMissing: return "RSS hash types without a key";
    case CtrlError::RssHashTypes: return "unsupported RSS hash types";
    case CtrlError::OffloadsNotNegotiated: return "offload not negotiated";
  }
  return "unknown";
}

NetControlState NetControlState::initial(MacAddress mac, uint64_t features) {
  NetControlState s;
  s.rx_filter = RxFilter::after_reset(mac, has_feature(features, VIRTIO_NET_F_CTRL_VLAN));
  s.guest_offloads = features & kGuestOffloadFeatures;
  return s;
}

namespace {

// Sequential little-endian reads over command data; every read is bounds
// checked and a failed read leaves the reader unusable.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  size_t remaining() const { return data_.size() - at_; }
  bool read(std::span<uint8_t> out) {
    if (out.size() > remaining()) return false;
    std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(at_), out.size(), out.begin());
    at_ += out.size();
    return true;
  }
  template <typename T>
  std::optional<T> le() {
    uint8_t b[sizeof(T)];
    if (!read(b)) return std::nullopt;
    T v = 0;
    for (size_t i = sizeof(T); i-- > 0;) v = static_cast<T>(v << 8 | b[i]);
    return v;
  }
  std::optional<MacAddress> mac() {
    MacAddress m;
    if (!read(m.bytes)) return std::nullopt;
    return m;
  }

 private:
  std::span<const uint8_t> data_;
  size_t at_ = 0;
};

struct Refusal {
  CtrlError error;
};

using Step = std::optional<Refusal>;  // nullopt: applied

Step refuse(CtrlError e) { return Refusal{e}; }

bool valid_table_length(size_t length, const NetControlLimits& limits) {
  return length > 0 && std::has_single_bit(length) && length <= limits.rss_max_indirection_table_length;
}

// The value rules of a hash configuration, for a command's and a restored
// one alike (the layout rules stay with the parser).
std::optional<CtrlError> check_rss_config(const RssConfig& cfg, const NetControlLimits& limits) {
  if (cfg.steering) {
    if (!valid_table_length(cfg.indirection_table.size(), limits)) return CtrlError::RssTableLength;
    if (cfg.unclassified_queue >= limits.max_queue_pairs ||
        std::any_of(cfg.indirection_table.begin(), cfg.indirection_table.end(),
                    [&](uint16_t q) { return q >= limits.max_queue_pairs; }))
      return CtrlError::RssQueueOutOfRange;
  }
  if (cfg.key.size() > limits.rss_max_key_size) return CtrlError::RssKeyTooLong;
  if (cfg.hash_types & ~limits.supported_hash_types) return CtrlError::RssHashTypes;
  if (cfg.hash_types != 0 && cfg.key.empty()) return CtrlError::RssKeyMissing;
  return std::nullopt;
}

Step rx_mode(uint64_t features, uint8_t cmd, std::span<const uint8_t> data, RxFilter& f) {
  bool RxFilter::*flag = nullptr;
  bool extra = true;
  switch (cmd) {
    case VIRTIO_NET_CTRL_RX_PROMISC:
      flag = &RxFilter::promisc;
      extra = false;
      break;
    case VIRTIO_NET_CTRL_RX_ALLMULTI:
      flag = &RxFilter::allmulti;
      extra = false;
      break;
    case VIRTIO_NET_CTRL_RX_ALLUNI: flag = &RxFilter::alluni; break;
    case VIRTIO_NET_CTRL_RX_NOMULTI: flag = &RxFilter::nomulti; break;
    case VIRTIO_NET_CTRL_RX_NOUNI: flag = &RxFilter::nouni; break;
    case VIRTIO_NET_CTRL_RX_NOBCAST: flag = &RxFilter::nobcast; break;
    default: return refuse(CtrlError::UnknownCommand);
  }
  if (!has_feature(features, VIRTIO_NET_F_CTRL_RX)) return refuse(CtrlError::FeatureNotNegotiated);
  if (extra && !has_feature(features, VIRTIO_NET_F_CTRL_RX_EXTRA)) return refuse(CtrlError::FeatureNotNegotiated);
  if (data.size() != 1) return refuse(CtrlError::BadLength);
  f.*flag = data[0] != 0;  // the spec sends 0 or 1; Linux documents "non-zero = enable"
  return std::nullopt;
}

// One virtio_net_ctrl_mac block: le32 entries, then entries * 6 bytes.
std::optional<std::vector<MacAddress>> read_mac_block(Reader& r, CtrlError& error) {
  const auto entries = r.le<uint32_t>();
  if (!entries) {
    error = CtrlError::BadLength;
    return std::nullopt;
  }
  // 64-bit arithmetic: a count near 2^32 must not wrap.
  if (uint64_t{*entries} * MacAddress::kSize > r.remaining()) {
    error = CtrlError::MacCountExceedsData;
    return std::nullopt;
  }
  std::vector<MacAddress> macs(*entries);
  for (auto& m : macs) m = *r.mac();
  return macs;
}

Step mac_table_set(std::span<const uint8_t> data, RxFilter& f) {
  Reader r(data);
  CtrlError error = CtrlError::None;
  auto uni = read_mac_block(r, error);
  if (!uni) return refuse(error);
  auto multi = read_mac_block(r, error);
  if (!multi) return refuse(error);
  if (r.remaining() != 0) return refuse(CtrlError::BadLength);
  if (std::any_of(uni->begin(), uni->end(), [](const MacAddress& m) { return m.is_multicast(); }))
    return refuse(CtrlError::MulticastInUnicastTable);
  if (std::any_of(multi->begin(), multi->end(), [](const MacAddress& m) { return m.is_unicast(); }))
    return refuse(CtrlError::UnicastInMulticastTable);

  // Like QEMU's MAC table: unicast entries first, multicast in what is left;
  // a class that does not fit is accepted wholesale (overflow), not refused.
  f.unicast.clear();
  f.multicast.clear();
  f.uni_overflow = uni->size() > RxFilter::kMacTableEntries;
  if (!f.uni_overflow) f.unicast = std::move(*uni);
  f.multi_overflow = f.unicast.size() + multi->size() > RxFilter::kMacTableEntries;
  if (!f.multi_overflow) f.multicast = std::move(*multi);
  return std::nullopt;
}

Step mac_class(uint64_t features, uint8_t cmd, std::span<const uint8_t> data, RxFilter& f) {
  switch (cmd) {
    case VIRTIO_NET_CTRL_MAC_TABLE_SET:
      if (!has_feature(features, VIRTIO_NET_F_CTRL_RX)) return refuse(CtrlError::FeatureNotNegotiated);
      return mac_table_set(data, f);
    case VIRTIO_NET_CTRL_MAC_ADDR_SET: {
      if (!has_feature(features, VIRTIO_NET_F_CTRL_MAC_ADDR)) return refuse(CtrlError::FeatureNotNegotiated);
      if (data.size() != MacAddress::kSize) return refuse(CtrlError::BadLength);
      const auto mac = *MacAddress::from_bytes(data);
      if (!mac.is_valid_station()) return refuse(CtrlError::InvalidMacAddress);
      f.mac = mac;
      return std::nullopt;
    }
    default: return refuse(CtrlError::UnknownCommand);
  }
}

Step vlan_class(uint64_t features, uint8_t cmd, std::span<const uint8_t> data, RxFilter& f) {
  if (cmd != VIRTIO_NET_CTRL_VLAN_ADD && cmd != VIRTIO_NET_CTRL_VLAN_DEL) return refuse(CtrlError::UnknownCommand);
  if (!has_feature(features, VIRTIO_NET_F_CTRL_VLAN)) return refuse(CtrlError::FeatureNotNegotiated);
  if (data.size() != 2) return refuse(CtrlError::BadLength);
  const uint16_t vid = *Reader(data).le<uint16_t>();
  if (vid >= RxFilter::kVlanIds) return refuse(CtrlError::VlanIdOutOfRange);
  f.set_vlan(vid, cmd == VIRTIO_NET_CTRL_VLAN_ADD);
  return std::nullopt;
}

Step announce_class(uint64_t features, uint8_t cmd, std::span<const uint8_t> data, NetControlState& s) {
  if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK) return refuse(CtrlError::UnknownCommand);
  if (!has_feature(features, VIRTIO_NET_F_GUEST_ANNOUNCE)) return refuse(CtrlError::FeatureNotNegotiated);
  if (!data.empty()) return refuse(CtrlError::BadLength);
  s.announce_pending = false;
  return std::nullopt;
}

// RSS_CONFIG (steering = true) and HASH_CONFIG (steering = false). The
// layout is parsed completely (exact length) before any value is judged.
Step hash_config(const NetControlLimits& limits, bool steering, std::span<const uint8_t> data, NetControlState& s) {
  Reader r(data);
  RssConfig cfg;
  cfg.steering = steering;
  std::optional<uint16_t> max_tx_vq;
  const auto hash_types = r.le<uint32_t>();
  if (!hash_types) return refuse(CtrlError::BadLength);
  cfg.hash_types = *hash_types;
  if (steering) {
    const auto mask = r.le<uint16_t>();
    const auto unclassified = r.le<uint16_t>();
    if (!mask || !unclassified) return refuse(CtrlError::BadLength);
    // The mask is length - 1; the length fixes the layout, so check it first.
    const uint32_t length = uint32_t{*mask} + 1;
    if (!valid_table_length(length, limits)) return refuse(CtrlError::RssTableLength);
    if (uint64_t{length} * 2 > r.remaining()) return refuse(CtrlError::BadLength);
    cfg.indirection_table.resize(length);
    for (auto& entry : cfg.indirection_table) entry = *r.le<uint16_t>();
    cfg.unclassified_queue = *unclassified;
    max_tx_vq = r.le<uint16_t>();
    if (!max_tx_vq) return refuse(CtrlError::BadLength);
  } else {
    // reserved[4]: skipped (devices ignore reserved fields).
    for (int i = 0; i < 4; ++i)
      if (!r.le<uint16_t>()) return refuse(CtrlError::BadLength);
  }
  const auto key_length = r.le<uint8_t>();
  if (!key_length || r.remaining() != *key_length) return refuse(CtrlError::BadLength);
  cfg.key.resize(*key_length);
  if (!r.read(cfg.key)) return refuse(CtrlError::BadLength);

  if (auto error = check_rss_config(cfg, limits)) return refuse(*error);
  if (max_tx_vq && (*max_tx_vq < 1 || *max_tx_vq > limits.max_queue_pairs))
    return refuse(CtrlError::QueuePairsOutOfRange);

  // No hash types and no key switches hashing (and steering) off.
  if (cfg.hash_types == 0 && cfg.key.empty())
    cfg = RssConfig{};
  else
    cfg.enabled = true;
  s.rss = std::move(cfg);
  if (max_tx_vq) s.queue_pairs = *max_tx_vq;  // RSS_CONFIG also sets the active pairs
  return std::nullopt;
}

Step mq_class(uint64_t features, const NetControlLimits& limits, uint8_t cmd, std::span<const uint8_t> data,
              NetControlState& s) {
  switch (cmd) {
    case VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: {
      if (!has_feature(features, VIRTIO_NET_F_MQ)) return refuse(CtrlError::FeatureNotNegotiated);
      if (data.size() != 2) return refuse(CtrlError::BadLength);
      const uint16_t pairs = *Reader(data).le<uint16_t>();
      if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > limits.max_queue_pairs)
        return refuse(CtrlError::QueuePairsOutOfRange);
      s.queue_pairs = pairs;
      // Automatic steering replaces RSS steering; hash reporting stays.
      if (s.rss.steering) s.rss = RssConfig{};
      return std::nullopt;
    }
    case VIRTIO_NET_CTRL_MQ_RSS_CONFIG:
      if (!has_feature(features, VIRTIO_NET_F_RSS)) return refuse(CtrlError::FeatureNotNegotiated);
      return hash_config(limits, true, data, s);
    case VIRTIO_NET_CTRL_MQ_HASH_CONFIG:
      if (!has_feature(features, VIRTIO_NET_F_HASH_REPORT)) return refuse(CtrlError::FeatureNotNegotiated);
      return hash_config(limits, false, data, s);
    default: return refuse(CtrlError::UnknownCommand);
  }
}

Step offloads_class(uint64_t features, uint8_t cmd, std::span<const uint8_t> data, NetControlState& s) {
  if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET) return refuse(CtrlError::UnknownCommand);
  if (!has_feature(features, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) return refuse(CtrlError::FeatureNotNegotiated);
  if (data.size() != 8) return refuse(CtrlError::BadLength);
  const uint64_t offloads = *Reader(data).le<uint64_t>();
  if (offloads & ~(features & kGuestOffloadFeatures)) return refuse(CtrlError::OffloadsNotNegotiated);
  s.guest_offloads = offloads;
  return std::nullopt;
}

}  // namespace

CtrlOutcome apply_ctrl_command(uint64_t features, const NetControlLimits& limits, uint8_t cls, uint8_t cmd,
                               std::span<const uint8_t> data, const NetControlState& current) {
  CtrlOutcome out;
  out.state = current;
  NetControlState& next = out.state;

  Step step;
  if (!has_feature(features, VIRTIO_NET_F_CTRL_VQ)) {
    step = refuse(CtrlError::FeatureNotNegotiated);
  } else {
    switch (cls) {
      case VIRTIO_NET_CTRL_RX: step = rx_mode(features, cmd, data, next.rx_filter); break;
      case VIRTIO_NET_CTRL_MAC: step = mac_class(features, cmd, data, next.rx_filter); break;
      case VIRTIO_NET_CTRL_VLAN: step = vlan_class(features, cmd, data, next.rx_filter); break;
      case VIRTIO_NET_CTRL_ANNOUNCE: step = announce_class(features, cmd, data, next); break;
      case VIRTIO_NET_CTRL_MQ: step = mq_class(features, limits, cmd, data, next); break;
      case VIRTIO_NET_CTRL_GUEST_OFFLOADS: step = offloads_class(features, cmd, data, next); break;
      // NOTF_COAL (6) and anything newer: this device never offers them.
      case VIRTIO_NET_CTRL_NOTF_COAL: step = refuse(CtrlError::FeatureNotNegotiated); break;
      default: step = refuse(CtrlError::UnknownClass); break;
    }
  }

  if (step) {
    out.state = current;  // a refused command changes nothing
    out.error = step->error;
    out.ack = VIRTIO_NET_ERR;
    return out;
  }
  out.ack = VIRTIO_NET_OK;
  out.rx_filter_changed = next.rx_filter != current.rx_filter;
  out.mac_changed = next.rx_filter.mac != current.rx_filter.mac;
  out.queue_pairs_changed = next.queue_pairs != current.queue_pairs;
  out.offloads_changed = next.guest_offloads != current.guest_offloads;
  out.rss_changed = next.rss != current.rss;
  out.announce_acked = cls == VIRTIO_NET_CTRL_ANNOUNCE;
  return out;
}

std::optional<std::string> NetControlState::validate(uint64_t features, const NetControlLimits& limits) const {
  const RxFilter& f = rx_filter;
  if (auto err = f.validate()) return "rx filter: " + *err;
  if (f.vlan_filtering != has_feature(features, VIRTIO_NET_F_CTRL_VLAN))
    return "VLAN filtering does not match CTRL_VLAN";
  if (!has_feature(features, VIRTIO_NET_F_CTRL_RX)) {
    const bool reset_modes = f.promisc && !f.allmulti && !f.alluni && !f.nomulti && !f.nouni && !f.nobcast;
    if (!reset_modes || !f.unicast.empty() || !f.multicast.empty() || f.uni_overflow || f.multi_overflow)
      return "rx mode or MAC table set without CTRL_RX";
  } else if (!has_feature(features, VIRTIO_NET_F_CTRL_RX_EXTRA) && (f.alluni || f.nomulti || f.nouni || f.nobcast)) {
    return "extra rx mode set without CTRL_RX_EXTRA";
  }

  const bool multi_queue = has_feature(features, VIRTIO_NET_F_MQ) || has_feature(features, VIRTIO_NET_F_RSS);
  if (queue_pairs < 1 || queue_pairs > limits.max_queue_pairs || (!multi_queue && queue_pairs != 1))
    return "queue pairs " + std::to_string(queue_pairs) + " out of range";
  if (guest_offloads & ~(features & kGuestOffloadFeatures)) return "guest offloads not negotiated";
  if (announce_pending && !has_feature(features, VIRTIO_NET_F_GUEST_ANNOUNCE))
    return "announce pending without GUEST_ANNOUNCE";

  if (!rss.enabled) {
    if (rss != RssConfig{}) return "disabled RSS configuration not empty";
    return std::nullopt;
  }
  if (!has_feature(features, rss.steering ? VIRTIO_NET_F_RSS : VIRTIO_NET_F_HASH_REPORT))
    return "RSS configuration without its feature";
  if (auto error = check_rss_config(rss, limits)) return std::string(to_string(*error));
  // A configuration without types and key switches RSS off: in force, it has a key.
  if (rss.key.empty()) return "RSS enabled without a key";
  if (!rss.steering && (!rss.indirection_table.empty() || rss.unclassified_queue != 0))
    return "hash-only configuration with steering fields";
  return std::nullopt;
}

}  // namespace wren
