// NetDevice's migration state: save, validate, restore.
#include "virtio/net/net_device.h"

#include "virtio/net/net_header.h"

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

std::variant<NetDevice::ValidState, std::string> NetDevice::validate(State s) const {
  if (auto problem = first_problem(s)) return std::move(*problem);
  return ValidState(*this, std::move(s));
}

std::optional<std::string> NetDevice::first_problem(const State& s) const {
  if (!s.active) {
    if (s.features != 0 || !s.rx_held.empty()) return "inactive state with activation fields";
    // Unused until an activation resets it, but never outside this device's range.
    if (s.control.queue_pairs == 0 || s.control.queue_pairs > options_.queue_pairs)
      return "inactive state with queue pairs " + std::to_string(s.control.queue_pairs) + " out of range";
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

std::optional<std::string> NetDevice::apply_restored_host_side_locked(const State& s) {
  // Inactive, the device has the reset state's header size; active, the
  // features (and so the header) are the restored ones already.
  const size_t header = net_header_size(s.features);
  if (!active_ && !backend_->set_vnet_header_size(static_cast<int>(header)))
    return backend_->name() + " refused a " + std::to_string(header) + "-byte virtio-net header";
  const HostSettings now = host_settings(control_, ctrl_rx());
  const HostSettings restored = host_settings(s.control, has_feature(s.features, VIRTIO_NET_F_CTRL_RX));
  switch (change_host_side_locked(now, restored)) {
    case HostSide::Outcome::Unchanged:
    case HostSide::Outcome::Applied: return std::nullopt;
    case HostSide::Outcome::RolledBack:
      return backend_->name() + " refused the restored host side (filter, offloads or queues); rolled back";
    case HostSide::Outcome::NeedsReset:
      return backend_->name() + " refused the restored host side (filter, offloads or queues) and its rollback";
  }
  return "unknown host-side outcome";
}

std::optional<std::string> NetDevice::restore(const State& state) {
  auto valid = validate(state);
  if (auto* problem = std::get_if<std::string>(&valid)) return std::move(*problem);
  return restore(std::get<ValidState>(valid));
}

std::optional<std::string> NetDevice::restore(const ValidState& valid) {
  if (valid.validator_ != this) return "state validated by another device";
  const State& s = valid.state();
  std::optional<std::string> refusal;
  locked_turn([&] {
    if (!s.active) {
      link_up_ = s.link_up;
      pending_restore_.reset();
      update_config_locked();
      return;
    }
    if (active_ && s.features != features_) {
      refusal = "features differ from the active device's";
      return;
    }
    if (auto refused = apply_restored_host_side_locked(s)) {
      refusal = std::move(refused);
      return;
    }
    if (!active_) {
      pending_restore_ = s;  // for the activation the transport's restore performs
      link_up_ = s.link_up;
      return;
    }
    if (!adopt_locked(s)) guest_error("restored receive chains are invalid");
    update_config_locked();
    if (control_.announce_pending) events_.config_changed = true;
    events_.rx_filter_changed = true;
  });
  return refusal;
}

}  // namespace wren
