#include "virtio/net/net_device.h"

#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <system_error>

#include "virtio/net/net_header.h"

namespace wren {

namespace {

constexpr uint64_t kTxBudget = 256;  // chains per turn before yielding to the loop
constexpr uint64_t kRxBudget = 256;  // frames per turn

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

NetDevice::TapQueue::TapQueue(boost::asio::io_context& io, int fd) : descriptor(io), frame(kMaxRxFrameBytes) {
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
      promisc_(*backend_, backend_->apply(HostFilter{}) ? std::optional<HostFilter>(HostFilter{}) : std::nullopt) {
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
  used_touched_.assign(num_queues(), false);
  control_ = NetControlState::initial(options_.mac, 0);
  if (!promisc_.installed())
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
  config_ = c;
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
  Events events;
  {
    std::lock_guard lock(mutex_);
    if (!accept_features(context.features)) {
      spdlog::warn("net {}: driver features {:#x} break feature dependencies", options_.name, context.features);
      return false;
    }
    if (!context.memory || context.queues.size() < num_queues()) return false;
    features_ = context.features;
    memory_ = context.memory;
    queues_ = context.queues;
    header_size_ = net_header_size(features_);
    if (!backend_->set_vnet_header_size(static_cast<int>(header_size_))) {
      spdlog::error("net {}: {} refused a {}-byte virtio-net header", options_.name, backend_->name(), header_size_);
      return false;
    }
    ++generation_;
    active_ = true;
    needs_reset_logged_ = false;
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
    apply_host_side_locked();
    update_config_locked();

    // Receive queues ask for kicks only when they run dry (see starved()).
    for (uint16_t p = 0; p < active_pairs(); ++p)
      if (auto* q = queue(static_cast<uint16_t>(2 * p)); q && q->ready()) q->disable_notification(*memory_);
    // Buffers may be waiting already.
    for (uint16_t p = 0; p < active_pairs(); ++p) {
      process_rx(p);
      process_tx(p);
    }
    if (has_feature(features_, VIRTIO_NET_F_CTRL_VQ)) process_ctrl();
    flush_notifications();
  }
  fire(events);
  return true;
}

// Installs the host side for control_: filter, offloads, queue steering.
void NetDevice::apply_host_side_locked() {
  const auto outcome = promisc_.update(compute_host_filter(control_.rx_filter, ctrl_rx()));
  if (outcome == PromiscController::Outcome::RolledBack || outcome == PromiscController::Outcome::NeedsReset) {
    ++counters_.host_filter_failures;
    spdlog::warn("net {}: host filter on {} not applied ({}); frames are still filtered here", options_.name,
                 backend_->name(), to_string(outcome));
  }
  if (!backend_->set_offloads(control_.guest_offloads))
    spdlog::warn("net {}: {} refused offloads {:#x}", options_.name, backend_->name(), control_.guest_offloads);
  for (uint16_t i = 0; i < options_.queue_pairs; ++i)
    if (!backend_->set_queue_enabled(i, i < control_.queue_pairs))
      spdlog::warn("net {}: could not {} queue {} of {}", options_.name, i < control_.queue_pairs ? "attach" : "detach",
                   i, backend_->name());
}

void NetDevice::reset() {
  std::lock_guard lock(mutex_);
  active_ = false;
  ++generation_;
  for (auto& t : taps_) {
    boost::system::error_code ignored;
    t.descriptor.cancel(ignored);
    t.read_armed = t.write_armed = t.blocked = false;
    t.frame_len = 0;
  }
  for (auto& held : rx_held_) held.clear();
  std::fill(used_touched_.begin(), used_touched_.end(), false);
  features_ = 0;
  memory_ = nullptr;
  queues_ = {};
  control_ = NetControlState::initial(options_.mac, 0);
  update_config_locked();
}

void NetDevice::guest_error(const std::string& what) {
  if (!needs_reset_logged_) spdlog::warn("net {}: guest error: {}; device needs reset", options_.name, what);
  needs_reset_logged_ = true;
  set_needs_reset();
}

// ---- Kicks ---------------------------------------------------------------------

void NetDevice::queue_notify(uint16_t index) {
  Events events;
  {
    std::lock_guard lock(mutex_);
    if (!active_ || index >= queues_.size()) return;
    if (has_feature(features_, VIRTIO_NET_F_CTRL_VQ) && index == ctrl_index()) {
      process_ctrl();
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
    flush_notifications();
    events = std::exchange(events_, Events{});
  }
  fire(events);
}

void NetDevice::flush_notifications() {
  for (uint16_t i = 0; i < used_touched_.size(); ++i) {
    if (!used_touched_[i]) continue;
    used_touched_[i] = false;
    if (auto* q = queue(i); q && q->needs_notification(*memory_)) signal_used(i);
  }
}

void NetDevice::fire(const Events& events) {
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
  Events events;
  {
    std::lock_guard lock(mutex_);
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
    flush_notifications();
    events = std::exchange(events_, Events{});
  }
  fire(events);
}

// ---- Receive -------------------------------------------------------------------

void NetDevice::process_rx(uint16_t tap) {
  auto& t = taps_[tap];
  if (t.blocked) return;  // resumed by a receive kick
  for (uint64_t n = 0; n < kRxBudget; ++n) {
    if (t.frame_len == 0 && !read_frame(tap)) return;
    if (t.frame_len == 0) continue;  // read and dropped
    switch (deliver(t.target, std::span(t.frame).first(t.frame_len))) {
      case Delivery::Delivered:
        ++counters_.rx_packets;
        counters_.rx_bytes += t.frame_len - header_size_;
        t.frame_len = 0;
        break;
      case Delivery::Dropped: t.frame_len = 0; break;
      case Delivery::NoBuffers:
        t.blocked = true;  // no fd wait until the guest kicks: the host queue backs up
        return;
    }
  }
  // Budget used up with frames probably still queued: yield to other work
  // and continue from the loop (no need to ask the reactor).
  continue_later(tap, &NetDevice::process_rx);
}

void NetDevice::continue_later(uint16_t index, void (NetDevice::*work)(uint16_t)) {
  boost::asio::post(io_, [weak = weak_from_this(), index, work, gen = generation_] {
    auto self = weak.lock();
    if (!self) return;
    Events events;
    {
      std::lock_guard lock(self->mutex_);
      if (gen != self->generation_ || !self->active_) return;
      (self.get()->*work)(index);
      self->flush_notifications();
      events = std::exchange(self->events_, Events{});
    }
    self->fire(events);
  });
}

// Reads one frame into taps_[tap].frame and prepares it for the guest.
// Returns false (with a read wait armed) when there is nothing to read.
bool NetDevice::read_frame(uint16_t tap) {
  auto& t = taps_[tap];
  const ssize_t r = ::read(t.descriptor.native_handle(), t.frame.data(), t.frame.size());
  if (r < 0) {
    if (errno == EINTR) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ++counters_.rx_errors;
      spdlog::warn("net {}: read from {} failed: {}", options_.name, backend_->name(), std::strerror(errno));
    }
    arm_read(tap);
    return false;
  }
  const size_t len = static_cast<size_t>(r);
  if (len < header_size_ || len == t.frame.size()) {  // no header, or possibly truncated
    ++counters_.rx_errors;
    return true;
  }
  const auto frame = std::span(t.frame).subspan(header_size_, len - header_size_);

  const RxVerdict verdict = control_.rx_filter.classify(frame);
  if (verdict != RxVerdict::Accept) {
    ++counters_.rx_filtered[static_cast<size_t>(verdict)];
    return true;
  }
  const auto check =
      prepare_rx_header(decode_net_header(std::span(t.frame).first(header_size_)), control_.guest_offloads, frame);
  if (!check.ok()) {
    ++counters_.rx_dropped_header;
    return true;
  }
  NetHeader header = check.header;
  uint16_t target = tap;
  if (control_.rss.enabled) {
    const auto hash = rss_hash(frame, control_.rss.hash_types, control_.rss.key);
    if (control_.rss.steering) target = rss_select_queue(control_.rss, hash);
    if (has_feature(features_, VIRTIO_NET_F_HASH_REPORT) && hash) {
      header.hash_value = hash->value;
      header.hash_report = hash->report;
    }
  }
  header.num_buffers = 1;
  encode_net_header(header, std::span(t.frame).first(header_size_));
  t.frame_len = len;
  t.target = target;
  return true;
}

// Asks for a kick and re-checks: true if the queue really is empty (the
// caller must wait for the kick), false if buffers arrived meanwhile.
bool NetDevice::starved(Queue& q) {
  if (!q.enable_notification(*memory_)) return true;
  q.disable_notification(*memory_);
  return false;
}

NetDevice::Delivery NetDevice::deliver(uint16_t pair, std::span<uint8_t> bytes) {
  Queue* q = queue(static_cast<uint16_t>(2 * pair));
  // Only queues the driver enabled with VQ_PAIRS_SET (or RSS_CONFIG, whose
  // table may point anywhere below the maximum) receive.
  const uint16_t limit = control_.rss.steering ? active_pairs() : control_.queue_pairs;
  if (pair >= limit || !q || !q->ready() || q->broken()) {
    ++counters_.rx_dropped_no_queue;
    return Delivery::Dropped;
  }
  const uint16_t index = static_cast<uint16_t>(2 * pair);

  if (!has_feature(features_, VIRTIO_NET_F_MRG_RXBUF)) {
    for (;;) {
      auto c = q->pop(*memory_);
      if (c.is_error()) {
        guest_error(std::string(q->label()) + ": " + std::string(to_string(c.error())));
        return Delivery::Dropped;
      }
      if (!c) {
        if (starved(*q)) return Delivery::NoBuffers;
        continue;
      }
      if (c->writable_len() < bytes.size()) {
        q->undo_pop();  // keep it for a frame that fits
        ++counters_.rx_dropped_too_big;
        return Delivery::Dropped;
      }
      const size_t written = c->write_at(*memory_, 0, bytes);
      if (written != bytes.size()) ++counters_.rx_errors;
      if (!q->add_used(*memory_, c->head(), static_cast<uint32_t>(written))) ++counters_.rx_errors;
      mark_used(index);
      return Delivery::Delivered;
    }
  }

  // Mergeable buffers: gather chains until the frame fits.
  auto& held = rx_held_[pair];
  uint64_t room = 0;
  size_t needed_chains = 0;
  for (const auto& c : held) {
    if (room >= bytes.size()) break;
    room += c.writable_len();
    ++needed_chains;
  }
  while (room < bytes.size()) {
    if (held.size() >= q->size()) {
      // Every buffer the guest has is held and still too small.
      ++counters_.rx_dropped_too_big;
      return Delivery::Dropped;
    }
    auto c = q->pop(*memory_);
    if (c.is_error()) {
      guest_error(std::string(q->label()) + ": " + std::string(to_string(c.error())));
      return Delivery::Dropped;
    }
    if (!c) {
      if (starved(*q)) return Delivery::NoBuffers;
      continue;
    }
    room += c->writable_len();
    held.push_back(std::move(c.chain()));
    ++needed_chains;
  }
  put_le16(bytes, 10, static_cast<uint16_t>(needed_chains));  // num_buffers
  size_t offset = 0;
  for (size_t i = 0; i < needed_chains; ++i) {
    const DescriptorChain& c = held.front();
    const size_t n = std::min<size_t>(c.writable_len(), bytes.size() - offset);
    const size_t written = c.write_at(*memory_, 0, bytes.subspan(offset, n));
    if (written != n) ++counters_.rx_errors;
    offset += n;
    if (!q->add_used(*memory_, c.head(), static_cast<uint32_t>(written))) ++counters_.rx_errors;
    held.pop_front();
  }
  mark_used(index);
  return Delivery::Delivered;
}

// ---- Transmit ------------------------------------------------------------------

void NetDevice::process_tx(uint16_t pair) {
  Queue* q = queue(static_cast<uint16_t>(2 * pair + 1));
  if (!q || !q->ready() || pair >= taps_.size()) return;
  if (taps_[pair].write_armed) return;  // waiting for the backend to drain
  const uint16_t index = static_cast<uint16_t>(2 * pair + 1);
  uint64_t budget = kTxBudget;
  for (;;) {
    q->disable_notification(*memory_);
    for (;;) {
      if (budget-- == 0) {
        continue_later(pair, &NetDevice::process_tx);  // let other work run
        return;
      }
      auto c = q->pop(*memory_);
      if (c.is_error()) {
        guest_error(std::string(q->label()) + ": " + std::string(to_string(c.error())));
        return;
      }
      if (!c) break;
      if (send_chain(pair, *c) == Send::WouldBlock) {
        q->undo_pop();
        arm_write(pair);
        return;
      }
      if (!q->add_used(*memory_, c->head(), 0)) ++counters_.tx_errors;
      mark_used(index);
    }
    if (!q->enable_notification(*memory_)) break;  // re-check: no kick lost
  }
}

NetDevice::Send NetDevice::send_chain(uint16_t pair, const DescriptorChain& chain) {
  if (chain.readable_len() < header_size_) {
    ++counters_.tx_dropped_header;
    return Send::Dropped;
  }
  std::array<uint8_t, kNetHeaderHashSize> header{};
  const auto header_bytes = std::span(header).first(header_size_);
  if (chain.read_at(*memory_, 0, header_bytes) != header_size_) {
    ++counters_.tx_errors;
    return Send::Dropped;
  }
  const size_t packet_len = chain.readable_len() - header_size_;
  const auto check = check_tx_header(decode_net_header(header_bytes), features_, packet_len);
  if (!check.ok()) {
    ++counters_.tx_dropped_header;
    return Send::Dropped;
  }
  encode_net_header(check.header, header_bytes);  // the checked copy, never the guest's bytes

  auto slices = chain.readable_slices(*memory_, header_size_);
  if (!slices) {
    ++counters_.tx_errors;
    return Send::Dropped;
  }
  std::vector<iovec> iov;
  iov.reserve(slices->size() + 1);
  iov.push_back({header.data(), header_size_});
  for (auto& s : *slices) iov.push_back({s.data(), s.size()});
  std::vector<uint8_t> bounce;
  if (iov.size() > IOV_MAX) {  // rare: flatten very fragmented chains
    bounce.reserve(chain.readable_len());
    for (const auto& v : iov)
      bounce.insert(bounce.end(), static_cast<uint8_t*>(v.iov_base), static_cast<uint8_t*>(v.iov_base) + v.iov_len);
    iov = {{bounce.data(), bounce.size()}};
  }
  const ssize_t n = ::writev(taps_[pair].descriptor.native_handle(), iov.data(), static_cast<int>(iov.size()));
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Send::WouldBlock;
    ++counters_.tx_errors;
    return Send::Dropped;
  }
  ++counters_.tx_packets;
  counters_.tx_bytes += packet_len;
  return Send::Sent;
}

// ---- Control queue -------------------------------------------------------------

void NetDevice::process_ctrl() {
  const uint16_t index = ctrl_index();
  Queue* q = queue(index);
  if (!q || !q->ready()) return;
  for (;;) {
    q->disable_notification(*memory_);
    for (;;) {
      auto c = q->pop(*memory_);
      if (c.is_error()) {
        guest_error(std::string(q->label()) + ": " + std::string(to_string(c.error())));
        return;
      }
      if (!c) break;
      if (c->writable_len() < 1) {
        // Nowhere to put the ack: the driver broke the protocol.
        ++counters_.ctrl_malformed;
        if (!q->add_used(*memory_, c->head(), 0)) ++counters_.ctrl_malformed;
        mark_used(index);
        guest_error("control command without a status byte");
        continue;
      }
      uint8_t ack = VIRTIO_NET_ERR;
      if (c->readable_len() < 2 || c->readable_len() > kMaxCtrlCommandBytes) {
        ++counters_.ctrl_malformed;
        ++counters_.ctrl_err;
      } else if (auto bytes = c->read_all(*memory_); !bytes) {
        ++counters_.ctrl_malformed;
        ++counters_.ctrl_err;
      } else {
        ack = execute_ctrl((*bytes)[0], (*bytes)[1], std::span<const uint8_t>(*bytes).subspan(2));
      }
      const uint8_t status[1] = {ack};
      const size_t written = c->write_at(*memory_, 0, status);
      if (!q->add_used(*memory_, c->head(), static_cast<uint32_t>(written))) ++counters_.ctrl_malformed;
      mark_used(index);
    }
    if (!q->enable_notification(*memory_)) break;
  }
}

uint8_t NetDevice::execute_ctrl(uint8_t cls, uint8_t cmd, std::span<const uint8_t> data) {
  auto out = apply_ctrl_command(features_, limits(), cls, cmd, data, control_);
  if (!out.ok()) {
    ++counters_.ctrl_err;
    return VIRTIO_NET_ERR;
  }
  if (out.rx_filter_changed) {
    switch (promisc_.update(compute_host_filter(out.state.rx_filter, ctrl_rx()))) {
      case PromiscController::Outcome::Unchanged:
      case PromiscController::Outcome::Applied: break;
      case PromiscController::Outcome::RolledBack:
        // The host keeps the old filter, so the guest keeps its old state.
        ++counters_.host_filter_failures;
        ++counters_.ctrl_err;
        spdlog::warn("net {}: host filter change on {} failed; rolled back", options_.name, backend_->name());
        return VIRTIO_NET_ERR;
      case PromiscController::Outcome::NeedsReset:
        ++counters_.host_filter_failures;
        ++counters_.ctrl_err;
        guest_error("host filter change and its rollback both failed on " + backend_->name());
        return VIRTIO_NET_ERR;
    }
  }
  if (out.offloads_changed && !backend_->set_offloads(out.state.guest_offloads))
    spdlog::warn("net {}: {} refused offloads {:#x}; offending frames will be dropped", options_.name, backend_->name(),
                 out.state.guest_offloads);
  if (out.queue_pairs_changed)
    for (uint16_t i = 0; i < options_.queue_pairs; ++i)
      if (!backend_->set_queue_enabled(i, i < out.state.queue_pairs))
        spdlog::warn("net {}: could not re-steer queue {} of {}", options_.name, i, backend_->name());
  control_ = std::move(out.state);
  if (out.mac_changed || out.announce_acked) update_config_locked();
  if (out.rx_filter_changed) events_.rx_filter_changed = true;
  ++counters_.ctrl_ok;
  return VIRTIO_NET_OK;
}

// ---- Host controls / queries -----------------------------------------------------

void NetDevice::set_link_up(bool up) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = link_up_ != up;
    link_up_ = up;
    update_config_locked();
    changed = changed && active_;
  }
  if (changed) signal_config_changed();
}

bool NetDevice::announce() {
  {
    std::lock_guard lock(mutex_);
    if (!active_ || !has_feature(features_, VIRTIO_NET_F_GUEST_ANNOUNCE)) return false;
    control_.announce_pending = true;
    update_config_locked();
  }
  signal_config_changed();
  return true;
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
  r.installed = promisc_.installed();
  r.queue_pairs = control_.queue_pairs;
  r.guest_offloads = control_.guest_offloads;
  r.counters = counters_;
  return r;
}

NetCounters NetDevice::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

// ---- Migration -------------------------------------------------------------------

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
  bool announce_changed = false;
  Events events;
  {
    std::lock_guard lock(mutex_);
    if (!s.active) {
      link_up_ = s.link_up;
      pending_restore_.reset();
      update_config_locked();
      return std::nullopt;
    }
    if (!active_) {
      pending_restore_ = s;  // for the activation the transport's restore performs
      link_up_ = s.link_up;
      return std::nullopt;
    }
    if (s.features != features_) return "features differ from the active device's";
    if (!adopt_locked(s)) guest_error("restored receive chains are invalid");
    apply_host_side_locked();
    update_config_locked();
    announce_changed = control_.announce_pending;
    events.rx_filter_changed = true;
  }
  if (announce_changed) signal_config_changed();
  fire(events);
  return std::nullopt;
}

}  // namespace wren
