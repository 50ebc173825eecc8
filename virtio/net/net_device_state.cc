// NetDevice's migration state: save, validate, restore.
#include "virtio/net/net_device.h"

namespace wren {

NetDevice::State NetDevice::save() const {
  std::lock_guard lock(mutex_);
  State s;
  s.link_up = link_up_;
  s.active = active_;
  if (!active_) return s;
  s.features = features_;
  s.control = control_;
  for (const auto& held : rx_held_) {
    auto& heads = s.rx_held.emplace_back();
    for (const auto& c : held) heads.push_back(c.head());
  }
  return s;
}

std::optional<std::string> NetDevice::validate(const State& s) const {
  if (!s.active) {
    if (s.features != 0 || !s.rx_held.empty()) return "inactive state with activation fields";
    return std::nullopt;
  }
  if (!accept_features(s.features)) return "features not offered by this device or inconsistent";
  if (auto err = s.control.validate(s.features, limits())) return "control state: " + *err;
  if (s.rx_held.size() != options_.queue_pairs) return "held chains for the wrong number of receive queues";
  for (const auto& heads : s.rx_held) {
    if (heads.size() > options_.queue_size) return "more held chains than a queue holds";
    if (!heads.empty() && !has_feature(s.features, VIRTIO_NET_F_MRG_RXBUF)) return "held chains without MRG_RXBUF";
    for (uint16_t h : heads)
      if (h >= options_.queue_size) return "held chain head out of range";
  }
  return std::nullopt;
}

// Takes over a validated state on an active device with the same features.
// False if a held chain no longer parses (the guest's rings are corrupt).
bool NetDevice::adopt_locked(const State& s) {
  link_up_ = s.link_up;
  control_ = s.control;
  bool ok = true;
  for (size_t p = 0; p < s.rx_held.size() && p < rx_held_.size(); ++p) {
    rx_held_[p].clear();
    Queue* q = queue(static_cast<uint16_t>(2 * p));
    for (uint16_t head : s.rx_held[p]) {
      if (!q || !q->ready() || head >= q->size()) {
        ok = false;
        break;
      }
      auto c = DescriptorChain::parse(*memory_, q->desc_addr(), q->size(), head);
      if (!c) {
        ok = false;
        break;
      }
      rx_held_[p].push_back(std::move(c.chain()));
    }
  }
  return ok;
}

std::optional<std::string> NetDevice::restore(const State& s) {
  if (auto err = validate(s)) return err;
  std::optional<std::string> refusal;
  locked_turn([&] {
    if (!s.active) {
      link_up_ = s.link_up;
      pending_restore_.reset();
      update_config_locked();
      return;
    }
    if (!active_) {
      pending_restore_ = s;  // for the activation the transport's restore performs
      link_up_ = s.link_up;
      return;
    }
    if (s.features != features_) {
      refusal = "features differ from the active device's";
      return;
    }
    const NetControlState old = control_;
    if (!adopt_locked(s)) guest_error("restored receive chains are invalid");
    change_host_side_locked(old, control_);
    update_config_locked();
    if (control_.announce_pending) events_.config_changed = true;
    events_.rx_filter_changed = true;
  });
  return refusal;
}

}  // namespace wren
