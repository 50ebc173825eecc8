#include "virtio/net/net_device.h"

#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <numeric>
#include <stdexcept>
#include <system_error>

#include "virtio/net/net_header.h"

namespace wren {

namespace {

// Feature dependencies (virtio 1.2, 5.1.3.1).
bool dependencies_met(uint64_t f) {
  auto has = [f](unsigned bit) { return has_feature(f, bit); };
  auto needs = [&](unsigned bit, bool requirement) { return !has(bit) || requirement; };
  const bool ctrl_vq = has(VIRTIO_NET_F_CTRL_VQ);
  return needs(VIRTIO_NET_F_GUEST_TSO4, has(VIRTIO_NET_F_GUEST_CSUM)) &&
         needs(VIRTIO_NET_F_GUEST_TSO6, has(VIRTIO_NET_F_GUEST_CSUM)) &&
         needs(VIRTIO_NET_F_GUEST_UFO, has(VIRTIO_NET_F_GUEST_CSUM)) &&
         needs(VIRTIO_NET_F_GUEST_ECN, has(VIRTIO_NET_F_GUEST_TSO4) || has(VIRTIO_NET_F_GUEST_TSO6)) &&
         needs(VIRTIO_NET_F_HOST_TSO4, has(VIRTIO_NET_F_CSUM)) &&
         needs(VIRTIO_NET_F_HOST_TSO6, has(VIRTIO_NET_F_CSUM)) &&
         needs(VIRTIO_NET_F_HOST_UFO, has(VIRTIO_NET_F_CSUM)) &&
         needs(VIRTIO_NET_F_HOST_ECN, has(VIRTIO_NET_F_HOST_TSO4) || has(VIRTIO_NET_F_HOST_TSO6)) &&
         needs(VIRTIO_NET_F_CTRL_RX, ctrl_vq) && needs(VIRTIO_NET_F_CTRL_VLAN, ctrl_vq) &&
         needs(VIRTIO_NET_F_GUEST_ANNOUNCE, ctrl_vq) && needs(VIRTIO_NET_F_MQ, ctrl_vq) &&
         needs(VIRTIO_NET_F_CTRL_MAC_ADDR, ctrl_vq) && needs(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, ctrl_vq) &&
         needs(VIRTIO_NET_F_RSS, ctrl_vq) && needs(VIRTIO_NET_F_HASH_REPORT, ctrl_vq) &&
         needs(VIRTIO_NET_F_CTRL_RX_EXTRA, has(VIRTIO_NET_F_CTRL_RX)) &&
         // The 20-byte hash header only exists in virtio 1.x.
         needs(VIRTIO_NET_F_HASH_REPORT, has_feature(f, 32));
}

void put_le16(std::span<uint8_t> b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}

}  // namespace

uint64_t NetCounters::rx_filtered_total() const {
  return std::accumulate(rx_filtered.begin(), rx_filtered.end(), uint64_t{0});
}

NetDevice::TapQueue::TapQueue(boost::asio::io_context& io, int fd)
    : descriptor(io), frame(kMaxRxFrameBytes), read_retry(io) {
  // The descriptor closes what it holds: give it its own reference.
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "dup backend fd");
  descriptor.assign(copy);
}

std::shared_ptr<NetDevice> NetDevice::create(NetDeviceOptions options, std::unique_ptr<NetBackend> backend,
                                             boost::asio::io_context& io) {
  if (!options.mac.is_valid_station())
    throw std::invalid_argument("net " + options.name + ": MAC " + options.mac.to_string() + " is not unicast");
  if (options.queue_pairs < 1 || options.queue_pairs > kNetMaxQueuePairs)
    throw std::invalid_argument("net " + options.name + ": queue pairs must be 1.." +
                                std::to_string(kNetMaxQueuePairs));
  if (!backend || backend->queue_count() != options.queue_pairs)
    throw std::invalid_argument("net " + options.name + ": backend must have one queue per queue pair");
  if (options.queue_size == 0 || !std::has_single_bit(options.queue_size) || options.queue_size > 32768)
    throw std::invalid_argument("net " + options.name + ": queue size must be a power of two up to 32768");
  return std::make_shared<NetDevice>(Private{}, std::move(options), std::move(backend), io);
}

NetDevice::NetDevice(Private, NetDeviceOptions options, std::unique_ptr<NetBackend> backend,
                     boost::asio::io_context& io)
    : options_(std::move(options)),
      backend_(std::move(backend)),
      io_(io),
      // A TAP may keep a filter from an earlier user: start from a known "all".
      host_side_(*backend_, backend_->queue_count(),
                 backend_->apply(HostFilter{}) ? std::optional<HostFilter>(HostFilter{}) : std::nullopt) {
  uint64_t f = kVirtioFVersion1 | kVirtioFRingEventIdx | kVirtioFRingIndirectDesc;
  for (unsigned bit :
       {VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX,
        VIRTIO_NET_F_CTRL_RX_EXTRA, VIRTIO_NET_F_CTRL_VLAN, VIRTIO_NET_F_GUEST_ANNOUNCE, VIRTIO_NET_F_CSUM,
        VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_UFO})
    f |= feature_bit(bit);
  // Guest offloads only as far as the backend can deliver them.
  f |= backend_->supported_guest_offloads() & kGuestOffloadFeatures;
  if (f & kGuestOffloadFeatures) f |= feature_bit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
  if (options_.mac_change) f |= feature_bit(VIRTIO_NET_F_CTRL_MAC_ADDR);
  if (options_.queue_pairs > 1)
    f |= feature_bit(VIRTIO_NET_F_MQ) | feature_bit(VIRTIO_NET_F_RSS) | feature_bit(VIRTIO_NET_F_HASH_REPORT);
  offered_ = f;

  for (uint16_t i = 0; i < options_.queue_pairs; ++i) taps_.emplace_back(io_, backend_->queue_fd(i));
  rx_held_.resize(options_.queue_pairs);
  used_.resize(num_queues());
  control_ = NetControlState::initial(options_.mac, 0);
  if (!host_side_.installed_filter())
    spdlog::warn("net {}: could not clear the host filter on {}", options_.name, backend_->name());
  update_config_locked();
}

NetDevice::~NetDevice() = default;

uint32_t NetDevice::device_type() const { return VIRTIO_ID_NET; }

bool NetDevice::accept_features(uint64_t features) const {
  return (features & ~offered_) == 0 && dependencies_met(features);
}

NetControlLimits NetDevice::limits() const {
  return NetControlLimits{options_.queue_pairs, kRssMaxKeySize, kRssMaxIndirectionTableLength, kRssSupportedHashTypes};
}

// ---- Config space --------------------------------------------------------------

void NetDevice::update_config_locked() {
  std::array<uint8_t, kConfigSize> c{};
  const MacAddress& mac = active_ ? control_.rx_filter.mac : options_.mac;
  std::copy(mac.bytes.begin(), mac.bytes.end(), c.begin());
  uint16_t status = link_up_ ? VIRTIO_NET_S_LINK_UP : 0;
  if (active_ && control_.announce_pending) status |= VIRTIO_NET_S_ANNOUNCE;
  put_le16(c, 6, status);
  put_le16(c, 8, options_.queue_pairs);
  put_le16(c, 10, 0);  // mtu: VIRTIO_NET_F_MTU not offered
  // speed (le32 at 12) and duplex (16): SPEED_DUPLEX not offered.
  c[17] = kRssMaxKeySize;
  put_le16(c, 18, kRssMaxIndirectionTableLength);
  const uint32_t types = kRssSupportedHashTypes;
  for (int i = 0; i < 4; ++i) c[20 + i] = static_cast<uint8_t>(types >> (8 * i));
  std::lock_guard lock(config_mutex_);
  if (config_ == c) return;
  config_ = c;
  // Any change bumps config_generation (so the driver's multi-field reads
  // stay consistent) and, after DRIVER_OK, interrupts the driver.
  if (active_) events_.config_changed = true;
}

void NetDevice::read_config(uint32_t offset, std::span<uint8_t> out) {
  std::lock_guard lock(config_mutex_);
  for (size_t i = 0; i < out.size(); ++i) out[i] = offset + i < config_.size() ? config_[offset + i] : 0;
}

void NetDevice::write_config(uint32_t, std::span<const uint8_t>) {
  // Read-only. (A legacy driver without CTRL_MAC_ADDR may try to write the
  // MAC; with mac-change=off that is exactly what is being refused.)
}

// ---- Activation ----------------------------------------------------------------

bool NetDevice::ctrl_rx() const { return has_feature(features_, VIRTIO_NET_F_CTRL_RX); }

uint16_t NetDevice::active_pairs() const {
  const bool multi = has_feature(features_, VIRTIO_NET_F_MQ) || has_feature(features_, VIRTIO_NET_F_RSS);
  return multi ? options_.queue_pairs : 1;
}

uint16_t NetDevice::ctrl_index() const { return static_cast<uint16_t>(2 * active_pairs()); }

Queue* NetDevice::queue(uint16_t index) { return index < queues_.size() ? &queues_[index] : nullptr; }

bool NetDevice::activate(const ActivationContext& context) {
  bool activated = false;
  // The control queue may hold commands already: their events fire at once.
  locked_turn([&] {
    if (!accept_features(context.features)) {
      spdlog::warn("net {}: driver features {:#x} break feature dependencies", options_.name, context.features);
      return;
    }
    if (!context.memory || context.queues.size() < num_queues()) return;
    features_ = context.features;
    memory_ = context.memory;
    queues_ = context.queues;
    header_size_ = net_header_size(features_);
    if (!backend_->set_vnet_header_size(static_cast<int>(header_size_))) {
      spdlog::error("net {}: {} refused a {}-byte virtio-net header", options_.name, backend_->name(), header_size_);
      return;
    }
    ++generation_;
    active_ = true;
    needs_reset_logged_ = false;
    const NetControlState old = control_;  // the reset state
    control_ = NetControlState::initial(options_.mac, features_);
    for (auto& held : rx_held_) held.clear();
    if (pending_restore_) {
      if (pending_restore_->active && pending_restore_->features == features_) {
        if (!adopt_locked(*pending_restore_)) guest_error("restored receive chains are invalid");
      } else {
        spdlog::warn("net {}: restored state does not match the activation; ignored", options_.name);
      }
      pending_restore_.reset();
    }
    change_host_side_locked(old, control_);
    update_config_locked();

    // Receive queues ask for kicks only when they run dry (see starved()).
    for (uint16_t p = 0; p < active_pairs(); ++p)
      if (auto* q = queue(static_cast<uint16_t>(2 * p)); q && q->ready()) q->disable_notification(*memory_);
    // Buffers may be waiting already.
    for (uint16_t p = 0; p < active_pairs(); ++p) {
      process_rx(p);
      process_tx(p);
    }
    if (has_feature(features_, VIRTIO_NET_F_CTRL_VQ)) process_ctrl(ctrl_index());
    activated = true;
  });
  return activated;
}

HostSide::Outcome NetDevice::change_host_side_locked(const NetControlState& old, const NetControlState& next) {
  // `old` was reached under the same features, or is the reset state,
  // whose filter is promiscuous either way.
  return change_host_side_locked(host_settings(old, ctrl_rx()), host_settings(next, ctrl_rx()));
}

HostSide::Outcome NetDevice::change_host_side_locked(const HostSettings& old, const HostSettings& next) {
  const auto outcome = host_side_.change(old, next);
  switch (outcome) {
    case HostSide::Outcome::Unchanged:
    case HostSide::Outcome::Applied: break;
    case HostSide::Outcome::RolledBack:
      ++counters_.host_filter_failures;
      spdlog::warn("net {}: {} refused a host-side change (filter, offloads or queues); rolled back", options_.name,
                   backend_->name());
      break;
    case HostSide::Outcome::NeedsReset:
      ++counters_.host_filter_failures;
      fail_device("a host-side change and its rollback both failed on " + backend_->name());
      break;
  }
  return outcome;
}

void NetDevice::reset() {
  std::lock_guard lock(mutex_);
  // The reset filter is promiscuous: widen the TAP to it first (under the
  // negotiated features the old filter was installed with), so the host never
  // filters more than the guest asked; a refused change is rolled back, and a
  // refused rollback sets NEEDS_RESET, as for every host-side change.
  const NetControlState old = control_;
  control_ = NetControlState::initial(options_.mac, 0);
  change_host_side_locked(old, control_);
  active_ = false;
  ++generation_;
  for (auto& t : taps_) {
    boost::system::error_code ignored;
    t.descriptor.cancel(ignored);
    t.read_armed = t.write_armed = t.blocked = false;
    t.frame_len = 0;
  }
  for (auto& held : rx_held_) held.clear();
  used_.clear();
  features_ = 0;
  memory_ = nullptr;
  queues_ = {};
  update_config_locked();
}

void NetDevice::guest_error(const std::string& what) { fail_device("guest error: " + what); }

void NetDevice::fail_device(const std::string& why) {
  if (!needs_reset_logged_) spdlog::warn("net {}: {}; device needs reset", options_.name, why);
  needs_reset_logged_ = true;
  set_needs_reset();
}

void NetDevice::broken_queue(const Queue& q, ChainError error) {
  guest_error(std::string(q.label()) + ": " + std::string(to_string(error)));
}

// ---- Kicks ---------------------------------------------------------------------

void NetDevice::queue_notify(uint16_t index) {
  locked_turn([&] {
    if (!active_ || index >= queues_.size()) return;
    if (has_feature(features_, VIRTIO_NET_F_CTRL_VQ) && index == ctrl_index()) {
      process_ctrl(index);
    } else if (index < 2 * active_pairs()) {
      const uint16_t pair = index / 2;
      if (index % 2 == 1) {
        process_tx(pair);
      } else {
        // New receive buffers: stop asking for kicks and resume every
        // reader that was waiting for buffers.
        if (auto* q = queue(index); q && q->ready()) q->disable_notification(*memory_);
        for (uint16_t t = 0; t < taps_.size(); ++t)
          if (taps_[t].blocked) {
            taps_[t].blocked = false;
            process_rx(t);
          }
      }
    }
  });
}

void NetDevice::flush_notifications() {
  used_.flush(queues_, memory_, [this](uint16_t i) { signal_used(i); });
}

void NetDevice::fire(const Events& events) {
  if (events.config_changed) signal_config_changed();
  if (!events.rx_filter_changed) return;
  std::function<void(const std::string&)> listener;
  {
    std::lock_guard lock(mutex_);
    listener = rx_filter_listener_;
  }
  if (listener) listener(options_.name);
}

// ---- Event loop ------------------------------------------------------------------

void NetDevice::arm_read(uint16_t tap) {
  auto& t = taps_[tap];
  if (t.read_armed) return;
  t.read_armed = true;
  t.descriptor.async_wait(boost::asio::posix::descriptor_base::wait_read,
                          [weak = weak_from_this(), tap, gen = generation_](const boost::system::error_code& ec) {
                            if (auto self = weak.lock()) self->on_ready(tap, false, gen, ec);
                          });
}

void NetDevice::arm_write(uint16_t tap) {
  auto& t = taps_[tap];
  if (t.write_armed) return;
  t.write_armed = true;
  t.descriptor.async_wait(boost::asio::posix::descriptor_base::wait_write,
                          [weak = weak_from_this(), tap, gen = generation_](const boost::system::error_code& ec) {
                            if (auto self = weak.lock()) self->on_ready(tap, true, gen, ec);
                          });
}

void NetDevice::on_ready(uint16_t tap, bool write, uint64_t generation, const boost::system::error_code& ec) {
  locked_turn([&] {
    if (generation != generation_ || !active_) return;  // from before a reset
    auto& t = taps_[tap];
    (write ? t.write_armed : t.read_armed) = false;
    if (ec) {
      if (ec != boost::asio::error::operation_aborted)
        spdlog::warn("net {}: waiting on {} failed: {}", options_.name, backend_->name(), ec.message());
      return;
    }
    if (write)
      process_tx(tap);
    else
      process_rx(tap);
  });
}

void NetDevice::continue_later(uint16_t index, void (NetDevice::*work)(uint16_t)) {
  boost::asio::post(io_, [weak = weak_from_this(), index, work, gen = generation_] {
    auto self = weak.lock();
    if (!self) return;
    self->locked_turn([&] {
      if (gen != self->generation_ || !self->active_) return;
      (self.get()->*work)(index);
    });
  });
}

// ---- Host controls / queries -----------------------------------------------------

void NetDevice::set_link_up(bool up) {
  locked_turn([&] {
    link_up_ = up;
    update_config_locked();
  });
}

bool NetDevice::announce() {
  bool announced = false;
  locked_turn([&] {
    if (!active_ || !has_feature(features_, VIRTIO_NET_F_GUEST_ANNOUNCE)) return;
    control_.announce_pending = true;
    update_config_locked();
    events_.config_changed = announced = true;
  });
  return announced;
}

void NetDevice::set_rx_filter_listener(std::function<void(const std::string&)> listener) {
  std::lock_guard lock(mutex_);
  rx_filter_listener_ = std::move(listener);
}

RxFilterReport NetDevice::query_rx_filter() const {
  std::lock_guard lock(mutex_);
  RxFilterReport r;
  r.name = options_.name;
  r.active = active_;
  r.ctrl_rx = ctrl_rx();
  r.filter = control_.rx_filter;
  r.wanted = compute_host_filter(control_.rx_filter, ctrl_rx());
  r.installed = host_side_.installed_filter();
  r.queue_pairs = control_.queue_pairs;
  r.guest_offloads = control_.guest_offloads;
  r.counters = counters_;
  return r;
}

NetCounters NetDevice::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace wren
