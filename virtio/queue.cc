#include "virtio/queue.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <bit>
#include <stdexcept>

namespace wren {

namespace sr = split_ring;

std::string_view to_string(QueueStateError error) {
  switch (error) {
    case QueueStateError::BadSize: return "queue size not a power of two within the maximum";
    case QueueStateError::MisalignedRing: return "ring address misaligned";
    case QueueStateError::RingOutOfRange: return "ring not in guest RAM";
  }
  return "unknown queue state error";
}

namespace {
bool valid_size(uint16_t size, uint16_t max_size) { return size != 0 && size <= max_size && std::has_single_bit(size); }
}  // namespace

Queue::Queue(uint16_t max_size, std::string label) : max_size_(max_size), label_(std::move(label)) {
  if (!valid_size(max_size, sr::kMaxQueueSize))
    throw std::invalid_argument("virtqueue max size must be a power of two <= 32768");
  reset();
}

// ---- Transport side ---------------------------------------------------------

bool Queue::set_size(uint16_t size) {
  if (state_.ready || !valid_size(size, max_size_)) return false;
  state_.size = size;
  return true;
}

bool Queue::set_desc_addr(uint64_t gpa) {
  if (state_.ready) return false;
  state_.desc_addr = gpa;
  return true;
}

bool Queue::set_avail_addr(uint64_t gpa) {
  if (state_.ready) return false;
  state_.avail_addr = gpa;
  return true;
}

bool Queue::set_used_addr(uint64_t gpa) {
  if (state_.ready) return false;
  state_.used_addr = gpa;
  return true;
}

std::optional<QueueStateError> Queue::enable(const GuestMemory& mem) {
  if (state_.ready) return std::nullopt;
  QueueState candidate = state_;
  candidate.ready = true;
  if (auto err = check(candidate, max_size_, mem)) {
    spdlog::warn("virtio queue {}: driver enabled an invalid queue: {}", label_, to_string(*err));
    return err;
  }
  state_.ready = true;
  used_flags_ = 0;
  notification_enabled_ = true;
  signalled_used_valid_ = false;
  return std::nullopt;
}

void Queue::reset() {
  state_ = QueueState{};
  state_.size = max_size_;
  used_flags_ = 0;
  unpublished_used_ = 0;
  notification_enabled_ = true;
  signalled_used_ = 0;
  signalled_used_valid_ = false;
  error_.reset();
}

// ---- Migration ----------------------------------------------------------------

std::optional<QueueStateError> Queue::check(const QueueState& s, uint16_t max_size, const GuestMemory& mem) {
  if (!valid_size(s.size, max_size)) return QueueStateError::BadSize;
  if (!s.ready) return std::nullopt;
  if (s.desc_addr % sr::kDescAlign || s.avail_addr % sr::kAvailAlign || s.used_addr % sr::kUsedAlign)
    return QueueStateError::MisalignedRing;
  if (!mem.contains(s.desc_addr, sr::desc_table_bytes(s.size)) ||
      !mem.contains(s.avail_addr, sr::avail_ring_bytes(s.size)) ||
      !mem.contains(s.used_addr, sr::used_ring_bytes(s.size)))
    return QueueStateError::RingOutOfRange;
  return std::nullopt;
}

bool Queue::restore(const QueueState& state, const GuestMemory& mem) {
  if (auto err = check(state, max_size_, mem)) {
    spdlog::warn("virtio queue {}: refusing restored state: {}", label_, to_string(*err));
    return false;
  }
  state_ = state;
  used_flags_ = 0;
  unpublished_used_ = 0;
  notification_enabled_ = true;
  signalled_used_valid_ = false;
  error_.reset();
  return true;
}

// ---- Device side ----------------------------------------------------------------

void Queue::mark_broken(ChainError error) {
  ++error_count_;
  if (error_) return;
  error_ = error;
  if (error_count_ == 1) {
    spdlog::warn("virtio queue {}: guest error: {}; queue stopped until reset", label_, to_string(error));
  } else {
    spdlog::debug("virtio queue {}: guest error: {}; queue stopped until reset", label_, to_string(error));
  }
}

std::optional<uint16_t> Queue::read_avail_idx(const GuestMemory& mem) const {
  return mem.read_obj<uint16_t>(state_.avail_addr + sr::kAvailIdx);
}

ChainResult Queue::pop(GuestMemory& mem) {
  if (!state_.ready || broken()) return {};
  const std::optional<uint16_t> avail_idx = read_avail_idx(mem);
  if (!avail_idx) return fail(ChainError::RingOutOfRange);
  const uint16_t pending = static_cast<uint16_t>(*avail_idx - state_.next_avail);
  if (pending > state_.size) return fail(ChainError::AvailIndexTooFar);
  if (pending == 0) return {};
  // The ring entry and the descriptors it names were written before avail
  // idx was bumped; read them only after reading idx.
  std::atomic_thread_fence(std::memory_order_acquire);

  const uint16_t slot = state_.next_avail & (state_.size - 1);
  const std::optional<uint16_t> head = mem.read_obj<uint16_t>(state_.avail_addr + sr::avail_ring_entry(slot));
  if (!head) return fail(ChainError::RingOutOfRange);
  if (*head >= state_.size) return fail(ChainError::IndexOutOfRange);

  ChainResult result = DescriptorChain::parse(mem, state_.desc_addr, state_.size, *head);
  if (result.is_error()) return fail(result.error());
  ++state_.next_avail;
  // While notifications are on, keep avail_event at our position so the
  // driver keeps kicking (enable_notification still does the race-free re-check).
  if (state_.event_idx && notification_enabled_ &&
      !mem.write_obj<uint16_t>(state_.used_addr + sr::used_avail_event(state_.size), state_.next_avail))
    return fail(ChainError::RingOutOfRange);
  return result;
}

ChainResult Queue::fail(ChainError error) {
  mark_broken(error);
  return error;
}

void Queue::undo_pop() {
  if (!state_.ready || broken()) return;
  --state_.next_avail;
}

uint16_t Queue::available(const GuestMemory& mem) const {
  if (!state_.ready || broken()) return 0;
  const std::optional<uint16_t> avail_idx = read_avail_idx(mem);
  if (!avail_idx) return 0;
  const uint16_t pending = static_cast<uint16_t>(*avail_idx - state_.next_avail);
  return pending > state_.size ? 0 : pending;
}

bool Queue::add_used(GuestMemory& mem, uint16_t head, uint32_t len) {
  return put_used(mem, head, len) && publish_used(mem);
}

bool Queue::put_used(GuestMemory& mem, uint16_t head, uint32_t len) {
  if (!state_.ready || broken() || head >= state_.size) return false;
  const uint16_t slot = static_cast<uint16_t>(state_.next_used + unpublished_used_) & (state_.size - 1);
  if (!mem.write_obj(state_.used_addr + sr::used_ring_entry(slot), sr::UsedElement{head, len})) {
    mark_broken(ChainError::RingOutOfRange);
    return false;
  }
  ++unpublished_used_;
  return true;
}

bool Queue::publish_used(GuestMemory& mem) {
  if (!state_.ready || broken()) return false;
  // The driver must see the elements before it sees the index move.
  std::atomic_thread_fence(std::memory_order_release);
  state_.next_used = static_cast<uint16_t>(state_.next_used + unpublished_used_);
  unpublished_used_ = 0;
  if (!mem.write_obj<uint16_t>(state_.used_addr + sr::kUsedIdx, state_.next_used)) {
    mark_broken(ChainError::RingOutOfRange);
    return false;
  }
  return true;
}

bool Queue::needs_notification(const GuestMemory& mem) {
  if (!state_.ready) return false;
  // Our used idx store must be visible before we read the driver's
  // suppression fields, or we may skip an interrupt the driver waits for.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (state_.event_idx) {
    const std::optional<uint16_t> used_event =
        mem.read_obj<uint16_t>(state_.avail_addr + sr::avail_used_event(state_.size));
    const uint16_t new_idx = state_.next_used;
    const uint16_t old_idx = signalled_used_;
    const bool old_valid = signalled_used_valid_;
    signalled_used_ = new_idx;
    signalled_used_valid_ = true;
    if (!used_event || !old_valid) return true;
    // vring_need_event: notify iff used_event lies in [old_idx, new_idx), mod 2^16.
    return static_cast<uint16_t>(new_idx - *used_event - 1) < static_cast<uint16_t>(new_idx - old_idx);
  }
  const std::optional<uint16_t> flags = mem.read_obj<uint16_t>(state_.avail_addr + sr::kAvailFlags);
  return !flags || !(*flags & sr::kAvailNoInterrupt);
}

bool Queue::enable_notification(GuestMemory& mem) {
  notification_enabled_ = true;
  if (!state_.ready || broken()) return false;
  bool ok = true;
  if (state_.event_idx) {
    ok = mem.write_obj<uint16_t>(state_.used_addr + sr::used_avail_event(state_.size), state_.next_avail);
  } else {
    used_flags_ &= static_cast<uint16_t>(~sr::kUsedNoNotify);
    ok = mem.write_obj<uint16_t>(state_.used_addr + sr::kUsedFlags, used_flags_);
  }
  if (!ok) {
    mark_broken(ChainError::RingOutOfRange);
    return false;
  }
  // Publish the request before looking for buffers: the driver does the
  // mirror image (publish idx, then read our request), so one of us sees the other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::optional<uint16_t> avail_idx = read_avail_idx(mem);
  return avail_idx && *avail_idx != state_.next_avail;
}

void Queue::disable_notification(GuestMemory& mem) {
  notification_enabled_ = false;
  if (!state_.ready || broken() || state_.event_idx) return;
  used_flags_ |= sr::kUsedNoNotify;
  if (!mem.write_obj<uint16_t>(state_.used_addr + sr::kUsedFlags, used_flags_)) mark_broken(ChainError::RingOutOfRange);
}

}  // namespace wren
