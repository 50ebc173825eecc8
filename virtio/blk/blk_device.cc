#include "virtio/blk/blk_device.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "virtio/features.h"

namespace wren {

namespace {

constexpr uint64_t bit(unsigned b) { return uint64_t{1} << b; }
constexpr int kZeroRange = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
constexpr int kPunchHole = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

// Token: slot << 8 | segment (segments < 256), so a completion finds its
// request and, for write-zeroes, the range to retry.
uint64_t token(uint32_t slot, uint32_t segment) { return (uint64_t{slot} << 8) | segment; }

}  // namespace

std::shared_ptr<BlkDevice> BlkDevice::create(BlkDeviceOptions options, blk::ImageFile image,
                                             boost::asio::io_context& io) {
  if (options.queues < 1 || options.queues > kBlkMaxQueues)
    throw std::invalid_argument("disk " + options.name + ": queues must be 1.." + std::to_string(kBlkMaxQueues));
  if (options.queue_size < 4 || !std::has_single_bit(options.queue_size) || options.queue_size > 32768)
    throw std::invalid_argument("disk " + options.name + ": queue size must be a power of two from 4 to 32768");
  if (options.max_in_flight < 1 || options.max_in_flight > options.queue_size)
    throw std::invalid_argument("disk " + options.name + ": in-flight bound must be 1..queue size");
  return std::make_shared<BlkDevice>(Private{}, std::move(options), std::move(image), io);
}

BlkDevice::BlkDevice(Private, BlkDeviceOptions options, blk::ImageFile image, boost::asio::io_context& io)
    : options_(std::move(options)),
      image_(std::move(image)),
      io_(io),
      engine_(uint32_t{options_.queues} * options_.max_in_flight + kMaxDiscardSegments),
      completions_(io) {
  uint64_t f = kVirtioFVersion1 | kVirtioFRingEventIdx | kVirtioFRingIndirectDesc;
  for (unsigned b : {VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH,
                     VIRTIO_BLK_F_TOPOLOGY, VIRTIO_BLK_F_CONFIG_WCE})
    f |= bit(b);
  if (image_.read_only())
    f |= bit(VIRTIO_BLK_F_RO);
  else
    f |= bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES);
  if (options_.queues > 1) f |= bit(VIRTIO_BLK_F_MQ);
  offered_ = f;

  // O_DIRECT needs its alignment for every offset and length: make it the
  // logical block size so the guest never sends less.
  const uint32_t block = image_.cache() == blk::CacheMode::None ? image_.direct_io_alignment() : 512;
  config_.capacity_sectors = image_.size() / blk::kSectorSize;
  config_.size_max = kSizeMax;
  config_.seg_max = options_.queue_size - 2;  // header and status take one descriptor each
  config_.blk_size = block;
  config_.physical_block_exp = static_cast<uint8_t>(std::countr_zero(std::max<uint32_t>(4096 / block, 1)));
  config_.min_io_size = 1;
  config_.opt_io_size = 0;
  config_.writeback = 1;
  config_.num_queues = options_.queues;
  config_.max_discard_sectors = kMaxDiscardSectors;
  config_.max_discard_seg = kMaxDiscardSegments;
  config_.discard_sector_alignment = block / blk::kSectorSize;
  config_.max_write_zeroes_sectors = kMaxDiscardSectors;
  config_.max_write_zeroes_seg = kMaxDiscardSegments;
  config_.write_zeroes_may_unmap = 1;

  const size_t slots = size_t{options_.queues} * options_.max_in_flight;
  slots_.resize(slots);
  for (size_t i = slots; i-- > 0;) free_slots_.push_back(static_cast<uint32_t>(i));
  queue_in_flight_.assign(options_.queues, 0);
  used_.resize(options_.queues);

  const int copy = ::fcntl(engine_.event_fd(), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "dup completion eventfd");
  completions_.assign(copy);
}

BlkDevice::~BlkDevice() {
  boost::system::error_code ignored;
  completions_.cancel(ignored);
  // Operations still running point into guest memory and the slots: let
  // them finish before either goes away.
  std::lock_guard lock(mutex_);
  active_ = false;
  wait_all_locked();
}

uint32_t BlkDevice::device_type() const { return VIRTIO_ID_BLOCK; }

// ---- Config space ------------------------------------------------------------------

void BlkDevice::read_config(uint32_t offset, std::span<uint8_t> out) {
  std::lock_guard lock(config_mutex_);
  const auto bytes = blk::encode_config(config_);
  for (size_t i = 0; i < out.size(); ++i) out[i] = offset + i < bytes.size() ? bytes[offset + i] : 0;
}

void BlkDevice::write_config(uint32_t offset, std::span<const uint8_t> in) {
  // Only `writeback` is writable, and only with CONFIG_WCE.
  if (offset > blk::kBlkConfigWritebackOffset || offset + in.size() <= blk::kBlkConfigWritebackOffset) return;
  {
    std::lock_guard lock(mutex_);
    if (!has_feature(features_, VIRTIO_BLK_F_CONFIG_WCE)) return;
  }
  const uint8_t value = in[blk::kBlkConfigWritebackOffset - offset] ? 1 : 0;
  std::lock_guard lock(config_mutex_);
  config_.writeback = value;
  writeback_.store(value != 0);
}

// ---- Activation --------------------------------------------------------------------

bool BlkDevice::activate(const ActivationContext& context) {
  bool activated = false;
  locked_turn([&] { activated = activate_locked(context); });
  return activated;
}

bool BlkDevice::activate_locked(const ActivationContext& context) {
  if (!accept_features(context.features) || !context.memory || context.queues.size() < num_queues()) return false;
  features_ = context.features;
  memory_ = context.memory;
  queues_ = context.queues;
  active_ = true;
  needs_reset_logged_ = false;
  // Without FLUSH the device must be write-through (virtio 1.2, 5.2.5.1).
  {
    std::lock_guard config_lock(config_mutex_);
    if (!has_feature(features_, VIRTIO_BLK_F_FLUSH)) config_.writeback = 0;
    writeback_.store(config_.writeback != 0);
  }
  if (pending_restore_) {
    if (pending_restore_->active && pending_restore_->features == features_) {
      if (!adopt_locked(*pending_restore_)) guest_error("restored in-flight requests are invalid");
    } else {
      spdlog::warn("disk {}: restored state does not match the activation; ignored", options_.name);
    }
    pending_restore_.reset();
  }
  arm_completion_wait();
  // A driver may publish requests before DRIVER_OK.
  for (uint16_t q = 0; q < num_queues(); ++q) process_queue(q);
  return true;
}

void BlkDevice::reset() {
  std::lock_guard lock(mutex_);
  // Operations still running write into guest memory: let them finish,
  // then forget them (the driver gave up on them by resetting).
  active_ = false;
  wait_all_locked();
  for (auto& s : slots_) s = Slot{};
  free_slots_.clear();
  for (size_t i = slots_.size(); i-- > 0;) free_slots_.push_back(static_cast<uint32_t>(i));
  std::fill(queue_in_flight_.begin(), queue_in_flight_.end(), 0);
  used_.clear();
  counters_.in_flight = 0;
  features_ = 0;
  memory_ = nullptr;
  queues_ = {};
  std::lock_guard config_lock(config_mutex_);
  config_.writeback = 1;
  writeback_.store(true);
}

void BlkDevice::wait_all_locked() {
  while (engine_.in_flight() > 0) {
    engine_.wait();
    reap_locked();
  }
}

void BlkDevice::queue_notify(uint16_t index) {
  locked_turn([&] {
    if (!active_ || index >= num_queues()) return;
    process_queue(index);
  });
}

// ---- Requests ----------------------------------------------------------------------

blk::DiskLimits BlkDevice::limits_locked() const {
  blk::DiskLimits l;
  l.capacity_sectors = config_.capacity_sectors;  // constant after construction
  l.read_only = image_.read_only();
  l.flush = has_feature(features_, VIRTIO_BLK_F_FLUSH);
  l.discard = has_feature(features_, VIRTIO_BLK_F_DISCARD);
  l.write_zeroes = has_feature(features_, VIRTIO_BLK_F_WRITE_ZEROES);
  l.block_size = config_.blk_size;
  l.max_discard_sectors = config_.max_discard_sectors;
  l.max_discard_segments = config_.max_discard_seg;
  l.max_write_zeroes_sectors = config_.max_write_zeroes_sectors;
  l.max_write_zeroes_segments = config_.max_write_zeroes_seg;
  return l;
}

void BlkDevice::process_queue(uint16_t index) {
  if (!active_ || index >= queues_.size()) return;
  Queue& q = queues_[index];
  if (!q.ready()) return;
  for (;;) {
    q.disable_notification(*memory_);
    while (queue_in_flight_[index] < options_.max_in_flight) {
      ChainResult r = q.pop(*memory_);
      if (r.is_error()) {
        guest_error(std::string("queue ") + std::to_string(index) + ": " + std::string(to_string(r.error())));
        return;
      }
      if (!r) break;
      if (!start_request(index, std::move(r.chain()))) {
        q.undo_pop();
        return;  // the ring is full: a completion continues
      }
    }
    // At the bound: a completion calls us again; no kick needed meanwhile.
    if (queue_in_flight_[index] >= options_.max_in_flight) return;
    if (!q.enable_notification(*memory_)) return;
  }
}

void BlkDevice::answer(uint16_t queue, const DescriptorChain& chain, uint8_t status, uint32_t data_len) {
  const uint8_t byte[1] = {status};
  (void)chain.write_at(*memory_, chain.writable_len() - 1, byte);
  count_status(status);
  if (!queues_[queue].add_used(*memory_, chain.head(), data_len + 1)) return;
  used_.mark(queue);
}

void BlkDevice::count_status(uint8_t status) {
  if (status == blk::kStatusIoErr) ++counters_.io_errors;
  if (status == blk::kStatusUnsupp) ++counters_.unsupported;
}

uint32_t BlkDevice::take_slot() {
  const uint32_t s = free_slots_.back();
  free_slots_.pop_back();
  return s;
}

bool BlkDevice::start_request(uint16_t queue, DescriptorChain chain) {
  using blk::RequestKind;
  const blk::ChainShape shape{chain.readable_len(), chain.writable_len()};
  if (auto bad = blk::check_shape(shape)) {
    ++counters_.malformed;
    if (queues_[queue].add_used(*memory_, chain.head(), 0)) used_.mark(queue);
    guest_error(std::string(to_string(*bad)));
    return true;
  }
  std::array<uint8_t, blk::kHeaderSize> raw{};
  if (chain.read_at(*memory_, 0, raw) != raw.size()) {
    answer(queue, chain, blk::kStatusIoErr, 0);
    return true;
  }
  const blk::DiskLimits limits = limits_locked();
  const blk::Parsed parsed = blk::parse(blk::Header::decode(raw), shape, limits);
  if (!parsed.ok()) {
    spdlog::debug("disk {}: request refused: {}", options_.name, parsed.rejection.reason);
    answer(queue, chain, parsed.rejection.status, 0);
    return true;
  }
  const blk::Request& req = *parsed.request;
  switch (req.kind) {
    case RequestKind::GetId: {
      ++counters_.get_ids;
      const auto id = blk::id_bytes(options_.serial);
      (void)chain.write_at(*memory_, 0, id);
      answer(queue, chain, blk::kStatusOk, blk::kIdBytes);
      return true;
    }
    case RequestKind::Read:
    case RequestKind::Write:
      if (req.length == 0) {
        ++(req.kind == RequestKind::Read ? counters_.reads : counters_.writes);
        answer(queue, chain, blk::kStatusOk, 0);
        return true;
      }
      break;
    default: break;
  }

  std::vector<blk::Range> ranges;
  if (req.kind == RequestKind::Discard || req.kind == RequestKind::WriteZeroes) {
    std::vector<uint8_t> table(req.segments * blk::kSegmentSize);
    if (chain.read_at(*memory_, blk::kHeaderSize, table) != table.size()) {
      answer(queue, chain, blk::kStatusIoErr, 0);
      return true;
    }
    auto parsed_ranges = blk::parse_ranges(req.kind, table, limits);
    if (parsed_ranges.rejection) {
      answer(queue, chain, parsed_ranges.rejection->status, 0);
      return true;
    }
    ranges = std::move(parsed_ranges.ranges);
    if (ranges.empty()) {
      ++(req.kind == RequestKind::Discard ? counters_.discards : counters_.write_zeroes);
      answer(queue, chain, blk::kStatusOk, 0);
      return true;
    }
  }

  const uint32_t ops = ranges.empty() ? 1 : static_cast<uint32_t>(ranges.size());
  if (engine_.in_flight() + ops > engine_.depth()) return false;  // nothing counted or answered yet

  std::vector<iovec> iov;
  if (req.kind == RequestKind::Read || req.kind == RequestKind::Write) {
    auto slices = req.kind == RequestKind::Read ? chain.writable_slices(*memory_, 0, req.length)
                                                : chain.readable_slices(*memory_, blk::kHeaderSize, req.length);
    bool usable = slices.has_value() && slices->size() <= IOV_MAX;
    if (usable && image_.cache() == blk::CacheMode::None) {
      // O_DIRECT: memory and lengths aligned, or the kernel refuses (no bounce buffer).
      const uint64_t a = image_.direct_io_alignment();
      for (const auto& s : *slices)
        if (reinterpret_cast<uintptr_t>(s.data()) % a || s.size() % a) usable = false;
    }
    if (!usable) {
      ++(req.kind == RequestKind::Read ? counters_.reads : counters_.writes);
      answer(queue, chain, blk::kStatusIoErr, req.kind == RequestKind::Read ? static_cast<uint32_t>(req.length) : 0);
      return true;
    }
    for (const auto& s : *slices) iov.push_back(iovec{s.data(), s.size()});
  }

  const uint32_t slot_index = take_slot();
  Slot& slot = slots_[slot_index];
  slot.busy = true;
  slot.queue = queue;
  slot.kind = req.kind;
  slot.length = req.length;
  slot.status = blk::kStatusOk;
  slot.pending = ops;
  slot.iov = std::move(iov);
  slot.ranges = std::move(ranges);
  slot.chain.emplace(std::move(chain));
  ++queue_in_flight_[queue];
  ++counters_.in_flight;

  const int fd = image_.fd();
  bool queued = true;
  switch (req.kind) {
    case RequestKind::Read:
      queued =
          engine_.readv(fd, slot.iov.data(), static_cast<unsigned>(slot.iov.size()), req.offset, token(slot_index, 0));
      break;
    case RequestKind::Write:
      queued = engine_.writev(fd, slot.iov.data(), static_cast<unsigned>(slot.iov.size()), req.offset,
                              !writeback_.load(), token(slot_index, 0));
      break;
    case RequestKind::Flush: queued = engine_.fdatasync(fd, token(slot_index, 0)); break;
    case RequestKind::Discard:
    case RequestKind::WriteZeroes:
      for (uint32_t i = 0; i < slot.ranges.size(); ++i) {
        const auto& r = slot.ranges[i];
        const int mode = req.kind == RequestKind::Discard || r.may_unmap ? kPunchHole : kZeroRange;
        queued = queued && engine_.fallocate(fd, mode, r.offset, r.length, token(slot_index, i));
      }
      break;
    case RequestKind::GetId: break;
  }
  if (!queued) spdlog::error("disk {}: io_uring refused an operation it had room for", options_.name);
  if (const int r = engine_.submit(); r < 0) spdlog::warn("disk {}: io_uring submit: {}", options_.name, strerror(-r));
  return true;
}

void BlkDevice::on_complete(uint64_t tok, int32_t result) {
  using blk::RequestKind;
  const uint32_t index = static_cast<uint32_t>(tok >> 8);
  const uint32_t segment = static_cast<uint32_t>(tok & 0xff);
  if (index >= slots_.size() || !slots_[index].busy) return;
  Slot& slot = slots_[index];
  if (!active_) {
    // After a reset: the request is forgotten.
    if (--slot.pending == 0) {
      slot = Slot{};
      free_slots_.push_back(index);
    }
    return;
  }
  bool ok = result >= 0;
  if ((slot.kind == RequestKind::Read || slot.kind == RequestKind::Write) &&
      static_cast<uint64_t>(result) != slot.length)
    ok = false;  // short transfer: ENOSPC part way, or the image shrank
  if (!ok && slot.kind == RequestKind::WriteZeroes && result == -EOPNOTSUPP && segment < slot.ranges.size()) {
    // No ZERO_RANGE here (tmpfs, some NFS): a punched hole reads back as zeroes too.
    const auto& r = slot.ranges[segment];
    if (!r.may_unmap && engine_.fallocate(image_.fd(), kPunchHole, r.offset, r.length, tok)) {
      slot.ranges[segment].may_unmap = true;
      (void)engine_.submit();
      return;
    }
  }
  if (!ok) {
    ++counters_.host_errors;
    spdlog::debug("disk {}: {} failed: {}", options_.name, to_string(slot.kind),
                  result < 0 ? strerror(-result) : "short transfer");
    slot.status = blk::kStatusIoErr;
  }
  if (--slot.pending == 0) finish(index);
}

void BlkDevice::finish(uint32_t index) {
  using blk::RequestKind;
  Slot& slot = slots_[index];
  const bool ok = slot.status == blk::kStatusOk;
  uint32_t data_len = 0;
  switch (slot.kind) {
    case RequestKind::Read:
      ++counters_.reads;
      if (ok) counters_.bytes_read += slot.length;
      data_len = static_cast<uint32_t>(slot.length);
      break;
    case RequestKind::Write:
      ++counters_.writes;
      if (ok) counters_.bytes_written += slot.length;
      break;
    case RequestKind::Flush: ++counters_.flushes; break;
    case RequestKind::Discard: ++counters_.discards; break;
    case RequestKind::WriteZeroes: ++counters_.write_zeroes; break;
    case RequestKind::GetId: break;
  }
  const uint16_t queue = slot.queue;
  answer(queue, *slot.chain, slot.status, data_len);
  slot = Slot{};
  free_slots_.push_back(index);
  --queue_in_flight_[queue];
  --counters_.in_flight;
}

size_t BlkDevice::reap_locked() {
  const size_t n = engine_.reap([this](uint64_t tok, int32_t result) { on_complete(tok, result); });
  if (n && active_) {
    for (uint16_t q = 0; q < num_queues(); ++q) process_queue(q);
    flush_notifications();
  }
  return n;
}

size_t BlkDevice::poll_completions() {
  size_t reaped = 0;
  locked_turn([&] { reaped = reap_locked(); });
  return reaped;
}

void BlkDevice::arm_completion_wait() {
  if (wait_armed_) return;
  wait_armed_ = true;
  completions_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [weak = weak_from_this()](const boost::system::error_code& ec) {
                            auto self = weak.lock();
                            if (!self || ec == boost::asio::error::operation_aborted) return;
                            self->locked_turn([&] {
                              // Re-armed first: completions keep being reaped (and
                              // a reset can wait for them) even if this turn fails.
                              self->wait_armed_ = false;
                              self->arm_completion_wait();
                              self->reap_locked();
                            });
                          });
}

void BlkDevice::flush_notifications() {
  used_.flush(queues_, memory_, [this](uint16_t q) { signal_used(q); });
}

void BlkDevice::guest_error(const std::string& what) { fail_device("guest error: " + what); }

void BlkDevice::fail_device(const std::string& why) {
  if (!needs_reset_logged_) spdlog::warn("disk {}: {}; device needs reset", options_.name, why);
  needs_reset_logged_ = true;
  set_needs_reset();
}

// ---- Host side ---------------------------------------------------------------------

BlkReport BlkDevice::report() const {
  BlkReport r;
  r.name = options_.name;
  r.path = image_.path();
  r.read_only = image_.read_only();
  r.direct = image_.cache() == blk::CacheMode::None;
  r.capacity_bytes = image_.size();
  r.queues = options_.queues;
  r.writeback = writeback_.load();
  std::lock_guard lock(mutex_);
  r.active = active_;
  r.counters = counters_;
  return r;
}

void BlkDevice::lock_image() {
  std::lock_guard lock(mutex_);
  image_.lock();
}

// ---- Migration ---------------------------------------------------------------------

BlkDevice::State BlkDevice::save() {
  std::lock_guard lock(mutex_);
  // Let every operation finish in the kernel, but leave the completions
  // for the loop: this may run while the loop is parked.
  engine_.wait_all();
  State s;
  s.active = active_;
  s.features = features_;
  s.writeback = writeback_.load();
  s.capacity_bytes = image_.size();
  s.image_inode = image_.identity().inode;
  s.read_only = image_.read_only();
  s.queues = options_.queues;
  s.in_flight.assign(options_.queues, {});
  if (active_)
    for (const auto& slot : slots_)
      if (slot.busy && slot.chain) s.in_flight[slot.queue].push_back(slot.chain->head());
  return s;
}

std::optional<std::string> BlkDevice::validate(const State& s) const {
  if (s.capacity_bytes != image_.size())
    return "image size differs (source " + std::to_string(s.capacity_bytes) + " bytes, here " +
           std::to_string(image_.size()) + "): not the same image";
  if (s.image_inode != image_.identity().inode) return "image identity (inode) differs: not the same image";
  if (s.read_only != image_.read_only()) return "read-only setting differs";
  if (s.queues != options_.queues) return "queue count differs";
  if (s.features & ~offered_) return "features not offered here";
  if (s.in_flight.size() != options_.queues) return "in-flight lists do not match the queues";
  for (const auto& q : s.in_flight)
    if (q.size() > options_.max_in_flight) return "more requests in flight than the bound";
  return std::nullopt;
}

std::optional<std::string> BlkDevice::restore(const State& s) {
  if (auto problem = validate(s)) return problem;
  {
    std::lock_guard config_lock(config_mutex_);
    config_.writeback = s.writeback ? 1 : 0;
    writeback_.store(s.writeback);
  }
  std::lock_guard lock(mutex_);
  if (active_ && s.active && s.features == features_) {
    if (!adopt_locked(s)) return "restored in-flight requests are invalid";
    flush_notifications();
    return std::nullopt;
  }
  pending_restore_ = s;
  return std::nullopt;
}

bool BlkDevice::adopt_locked(const State& s) {
  {
    std::lock_guard config_lock(config_mutex_);
    config_.writeback = s.writeback ? 1 : 0;
    writeback_.store(s.writeback);
  }
  for (uint16_t q = 0; q < s.in_flight.size() && q < queues_.size(); ++q) {
    Queue& queue = queues_[q];
    for (uint16_t head : s.in_flight[q]) {
      if (!queue.ready() || head >= queue.size()) return false;
      ChainResult r = DescriptorChain::parse(*memory_, queue.desc_addr(), queue.size(), head);
      if (!r) return false;
      if (queue_in_flight_[q] >= options_.max_in_flight || !start_request(q, std::move(r.chain()))) return false;
    }
  }
  return true;
}

}  // namespace wren
