#include "virtio/net/host_side.h"

namespace wren {

std::string_view to_string(HostSide::Outcome outcome) {
  switch (outcome) {
    case HostSide::Outcome::Unchanged: return "unchanged";
    case HostSide::Outcome::Applied: return "applied";
    case HostSide::Outcome::RolledBack: return "rolled back";
    case HostSide::Outcome::NeedsReset: return "needs reset";
  }
  return "unknown";
}

HostSettings host_settings(const NetControlState& state, bool ctrl_rx_negotiated) {
  return HostSettings{compute_host_filter(state.rx_filter, ctrl_rx_negotiated), state.guest_offloads,
                      state.queue_pairs};
}

HostSide::HostSide(HostSideBackend& backend, uint16_t queue_count, std::optional<HostFilter> installed_filter)
    : backend_(backend), filter_(std::move(installed_filter)), attached_(queue_count) {}

namespace {

// Issues `value` unless `known` says it is installed; `known` follows the
// outcome (nullopt after a refusal).
template <typename T, typename Issue>
bool settle(std::optional<T>& known, const T& value, bool& changed, Issue issue) {
  if (known == value) return true;
  changed = true;
  if (!issue(value)) {
    known.reset();
    return false;
  }
  known = value;
  return true;
}

}  // namespace

bool HostSide::install(const HostSettings& wanted, bool stop_on_failure, bool& changed) {
  bool ok = settle(filter_, wanted.filter, changed, [this](const HostFilter& f) { return backend_.apply(f); });
  if (!ok && stop_on_failure) return false;
  ok = settle(offloads_, wanted.offloads, changed, [this](uint64_t o) { return backend_.set_offloads(o); }) && ok;
  if (!ok && stop_on_failure) return false;
  for (uint16_t i = 0; i < attached_.size(); ++i) {
    ok = settle(attached_[i], i < wanted.attached_queues, changed,
                [this, i](bool on) { return backend_.set_queue_enabled(i, on); }) &&
         ok;
    if (!ok && stop_on_failure) return false;
  }
  return ok;
}

HostSide::Outcome HostSide::change(const HostSettings& old, const HostSettings& next) {
  bool changed = false;
  if (install(next, true, changed)) return changed ? Outcome::Applied : Outcome::Unchanged;
  ++failures_;
  // What was refused is unknown now, and what went through no longer
  // matches the guest's state: put every setting back.
  bool ignored = false;
  return install(old, false, ignored) ? Outcome::RolledBack : Outcome::NeedsReset;
}

}  // namespace wren
