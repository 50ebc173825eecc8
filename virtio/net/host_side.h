#pragma once
// The one owner of what the guest's control state asks of the host side
// (the TAP): its receive filter, its offloads and which of its queues are
// attached. All three move together from one control state to the next; on
// any failure everything is put back as it was, and when even that fails the
// host state is unknown and the device must set DEVICE_NEEDS_RESET.
//
// It remembers what it knows to be installed, so it only issues real changes
// (a queue is attached or detached only when its attachment changes), and
// anything unknown (at start, or after a failure) is always re-issued.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "virtio/net/ctrl_command.h"
#include "virtio/net/host_filter.h"

namespace wren {

// The host's knobs (the TAP; fakes in tests). Each returns false when the
// host refused; the setting is then unknown.
class HostSideBackend {
 public:
  virtual ~HostSideBackend() = default;
  [[nodiscard]] virtual bool apply(const HostFilter& filter) = 0;
  // Guest receive offloads the host may use when sending frames to us
  // (feature-bit positions: GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO).
  [[nodiscard]] virtual bool set_offloads(uint64_t guest_offloads) = 0;
  // Multi-queue: stop/start the host steering frames to queue `index`.
  [[nodiscard]] virtual bool set_queue_enabled(uint16_t index, bool enabled) = 0;
};

// What the host side must deliver for one control state.
struct HostSettings {
  HostFilter filter;
  uint64_t offloads = 0;
  uint16_t attached_queues = 1;  // queues [0, attached_queues) attached, the rest detached

  friend bool operator==(const HostSettings&, const HostSettings&) = default;
};
[[nodiscard]] HostSettings host_settings(const NetControlState& state, bool ctrl_rx_negotiated);

class HostSide {
 public:
  enum class Outcome : uint8_t {
    Unchanged,  // everything wanted is installed already
    Applied,
    RolledBack,  // the host refused a change; the old settings are back in place
    NeedsReset,  // the host refused, and refused the rollback too: its state is unknown
  };

  // `queue_count`: the backend's queues. `installed_filter`: what the
  // backend's filter delivers now (a fresh TAP: everything; nullopt: unknown).
  // Offloads and queue attachment start unknown.
  HostSide(HostSideBackend& backend, uint16_t queue_count, std::optional<HostFilter> installed_filter);

  // Moves the host side from `old` (what the guest had; the rollback target)
  // to `next`.
  [[nodiscard]] Outcome change(const HostSettings& old, const HostSettings& next);

  // The filter known to be installed; nullopt when unknown.
  const std::optional<HostFilter>& installed_filter() const { return filter_; }
  uint64_t failures() const { return failures_; }

 private:
  // Issues every setting of `wanted` not known to be installed. Stops at the
  // first refusal when `stop_on_failure`, else tries them all. False if any
  // was refused.
  bool install(const HostSettings& wanted, bool stop_on_failure, bool& changed);

  HostSideBackend& backend_;
  std::optional<HostFilter> filter_;
  std::optional<uint64_t> offloads_;
  std::vector<std::optional<bool>> attached_;  // per backend queue
  uint64_t failures_ = 0;
};

std::string_view to_string(HostSide::Outcome outcome);

}  // namespace wren
