// NetDevice's receive path: TAP frames to the guest's receive queues.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "virtio/net/net_device.h"
#include "virtio/net/net_header.h"

namespace wren {

namespace {

constexpr uint64_t kRxBudget = 256;  // frames per turn before yielding to the loop

}  // namespace

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

// A lasting error (the TAP deleted under us: EBADFD and EPOLLERR for good)
// would wake the loop again at once and spin it. So the fd is watched again
// only after a pause that doubles with each failure in a row, from 10 ms to
// 5 s, and only the first failure is logged.
void NetDevice::read_failed(uint16_t tap, const char* why) {
  auto& t = taps_[tap];
  ++counters_.rx_errors;
  if (t.failed_reads == 0)
    spdlog::warn("net {}: read from {} failed: {}; retrying with backoff", options_.name, backend_->name(), why);
  const uint32_t doublings = std::min<uint32_t>(t.failed_reads, 9);
  ++t.failed_reads;
  t.read_retry.expires_after(std::chrono::milliseconds(std::min(10u << doublings, 5000u)));
  t.read_retry.async_wait([weak = weak_from_this(), tap, gen = generation_](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->locked_turn([&] {
      if (gen == self->generation_ && self->active_) self->arm_read(tap);
    });
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
      read_failed(tap, std::strerror(errno));
      return false;
    }
    arm_read(tap);
    return false;
  }
  if (r == 0) {  // a TAP never reads 0 bytes; another backend has closed
    read_failed(tap, "end of file");
    return false;
  }
  if (t.failed_reads) {
    spdlog::info("net {}: reading from {} works again after {} failed reads", options_.name, backend_->name(),
                 t.failed_reads);
    t.failed_reads = 0;
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

std::optional<DescriptorChain> NetDevice::next_rx_chain(Queue& q, Delivery& none) {
  for (;;) {
    auto c = q.pop(*memory_);
    if (c.is_error()) {
      broken_queue(q, c.error());
      none = Delivery::Dropped;
      return std::nullopt;
    }
    if (c) return std::move(c.chain());
    if (starved(q)) {
      none = Delivery::NoBuffers;
      return std::nullopt;
    }
  }
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

  Delivery none = Delivery::Dropped;
  if (!has_feature(features_, VIRTIO_NET_F_MRG_RXBUF)) {
    auto c = next_rx_chain(*q, none);
    if (!c) return none;
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
    auto c = next_rx_chain(*q, none);
    if (!c) return none;
    room += c->writable_len();
    held.push_back(std::move(*c));
    ++needed_chains;
  }
  set_net_header_num_buffers(bytes, static_cast<uint16_t>(needed_chains));
  size_t offset = 0;
  for (size_t i = 0; i < needed_chains; ++i) {
    const DescriptorChain& c = held.front();
    const size_t n = std::min<size_t>(c.writable_len(), bytes.size() - offset);
    const size_t written = c.write_at(*memory_, 0, bytes.subspan(offset, n));
    if (written != n) ++counters_.rx_errors;
    offset += n;
    if (!q->put_used(*memory_, c.head(), static_cast<uint32_t>(written))) ++counters_.rx_errors;
    held.pop_front();
  }
  // The frame appears to the driver whole, with all its num_buffers chains.
  if (!q->publish_used(*memory_)) ++counters_.rx_errors;
  mark_used(index);
  return Delivery::Delivered;
}

}  // namespace wren
