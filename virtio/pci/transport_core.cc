#include "virtio/pci/transport_core.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "virtio/queue_layout.h"

namespace wren {

using namespace virtio_pci;

namespace {
constexpr uint8_t kKnownStatusBits =
    kStatusAcknowledge | kStatusDriver | kStatusDriverOk | kStatusFeaturesOk | kStatusNeedsReset | kStatusFailed;
}  // namespace

TransportCore::TransportCore(VirtioDevice& device, GuestMemory& memory, VirtioPciMode mode,
                             TransportInterruptPins& pins)
    : device_(device), memory_(memory), mode_(mode), pins_(pins), offered_features_(device.device_features()) {
  const uint16_t n = device.num_queues();
  queues_.reserve(n);
  for (uint16_t i = 0; i < n; ++i)
    queues_.emplace_back(device.queue_max_size(i), device.name() + "." + std::to_string(i));
  queue_vectors_.assign(n, kNoVector);
  device_.bind_transport(this);
}

TransportCore::~TransportCore() { device_.bind_transport(nullptr); }

// ---- Status ---------------------------------------------------------------------

uint8_t TransportCore::status() const {
  std::lock_guard lock(irq_mutex_);
  return status_;
}

bool TransportCore::features_acceptable(uint64_t features) const {
  if (features & ~offered_features_) return false;   // acked something never offered
  if (!(features & kVirtioFVersion1)) return false;  // modern interface needs VERSION_1
  return device_.accept_features(features);
}

void TransportCore::write_status(uint8_t value, bool legacy_interface) {
  if (value == 0) {
    reset();
    return;
  }
  uint8_t old = 0;
  {
    std::lock_guard lock(irq_mutex_);
    old = status_;
  }
  // Bits accumulate until reset; unknown bits and NEEDS_RESET are not the
  // driver's to set.
  uint8_t requested = value & kKnownStatusBits & ~kStatusNeedsReset;
  if (legacy_interface) requested &= ~kStatusFeaturesOk;  // not a legacy concept
  uint8_t next = old | requested;

  if ((requested & kStatusFeaturesOk) && !(old & kStatusFeaturesOk)) {
    // Too late after DRIVER_OK; otherwise validate the driver's choice.
    if ((old & kStatusDriverOk) || !features_acceptable(driver_features_)) next &= ~kStatusFeaturesOk;
  }
  bool activate_now = false;
  if ((requested & kStatusDriverOk) && !(old & kStatusDriverOk)) {
    // Modern drivers must have completed feature negotiation; a legacy
    // driver (transitional device only) never sets FEATURES_OK.
    const bool negotiated = next & kStatusFeaturesOk;
    const bool legacy_ok = mode_ == VirtioPciMode::kTransitional && !(old & kStatusFeaturesOk);
    if (negotiated || legacy_ok)
      activate_now = !(old & kStatusNeedsReset);
    else
      next &= ~kStatusDriverOk;
  }
  {
    std::lock_guard lock(irq_mutex_);
    status_ = static_cast<uint8_t>((status_ & kStatusNeedsReset) | next);
  }
  if (activate_now) activate();
}

uint64_t TransportCore::activation_features(uint64_t driver_features, uint8_t status) const {
  uint64_t features = driver_features & offered_features_;
  if (!(status & kStatusFeaturesOk)) features &= 0xffffffffu;  // legacy driver: 32 feature bits only
  return features;
}

void TransportCore::activate() {
  uint8_t status = 0;
  {
    std::lock_guard lock(irq_mutex_);
    status = status_;
  }
  const uint64_t features = activation_features(driver_features_, status);
  for (auto& q : queues_) q.set_event_idx(features & kVirtioFRingEventIdx);

  bool ok = false;
  {
    std::unique_lock kick(kick_mutex_);
    active_.store(true, std::memory_order_release);  // so interrupts raised inside activate() count
    ActivationContext context{features, &memory_, std::span<Queue>(queues_)};
    ok = device_.activate(context);
    if (!ok) active_.store(false, std::memory_order_release);
  }
  if (!ok) {
    spdlog::warn("virtio: {} refused activation; setting NEEDS_RESET", device_.name());
    std::lock_guard lock(irq_mutex_);
    needs_reset_locked();
  }
}

void TransportCore::reset() {
  {
    std::unique_lock kick(kick_mutex_);
    active_.store(false, std::memory_order_release);
    device_.reset();
  }
  for (auto& q : queues_) q.reset();
  driver_features_ = 0;
  device_feature_select_ = 0;
  driver_feature_select_ = 0;
  queue_select_ = 0;
  std::lock_guard lock(irq_mutex_);
  status_ = 0;
  isr_ = 0;
  config_vector_ = kNoVector;
  std::fill(queue_vectors_.begin(), queue_vectors_.end(), kNoVector);
  pins_.set_intx(false);
}

// ---- Features -------------------------------------------------------------------

uint32_t TransportCore::device_features_word(uint32_t select) const {
  return select < 2 ? static_cast<uint32_t>(offered_features_ >> (32 * select)) : 0;
}

uint32_t TransportCore::driver_features_word(uint32_t select) const {
  return select < 2 ? static_cast<uint32_t>(driver_features_ >> (32 * select)) : 0;
}

void TransportCore::write_driver_features_word(uint32_t select, uint32_t value) {
  if (select >= 2 || (status() & (kStatusFeaturesOk | kStatusDriverOk))) return;
  const unsigned shift = 32 * select;
  driver_features_ = (driver_features_ & ~(uint64_t{0xffffffff} << shift)) | (uint64_t{value} << shift);
}

// ---- Queues ---------------------------------------------------------------------

const Queue* TransportCore::selected_queue() const {
  return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}

Queue* TransportCore::selected_queue_mut() {
  if (queue_select_ >= queues_.size() || (status() & kStatusDriverOk) || active()) return nullptr;
  return &queues_[queue_select_];
}

void TransportCore::write_queue_size(uint16_t size) {
  if (Queue* q = selected_queue_mut()) (void)q->set_size(size);  // an invalid size keeps the old one
}

void TransportCore::write_queue_address(RingPart part, uint64_t value, uint64_t mask) {
  Queue* q = selected_queue_mut();
  if (!q) return;
  const uint64_t old = part == RingPart::kDesc     ? q->desc_addr()
                       : part == RingPart::kDriver ? q->avail_addr()
                                                   : q->used_addr();
  const uint64_t next = (old & ~mask) | (value & mask);
  switch (part) {
    case RingPart::kDesc: (void)q->set_desc_addr(next); break;
    case RingPart::kDriver: (void)q->set_avail_addr(next); break;
    case RingPart::kDevice: (void)q->set_used_addr(next); break;
  }
}

void TransportCore::write_queue_enable(uint16_t value) {
  Queue* q = selected_queue_mut();
  if (!q || value != 1 || q->ready()) return;  // writing 0 is forbidden to drivers: ignore
  if (auto error = q->enable(memory_)) {
    spdlog::warn("virtio: {} refused queue setup ({}); setting NEEDS_RESET", q->label(), to_string(*error));
    std::lock_guard lock(irq_mutex_);
    needs_reset_locked();
  }
}

void TransportCore::write_legacy_pfn(uint32_t pfn) {
  Queue* q = selected_queue_mut();
  if (!q) return;
  q->reset();  // PFN 0 disables; anything else re-places the ring
  if (pfn == 0) return;
  const auto rings = split_ring::legacy_ring_addresses(uint64_t{pfn} << 12, q->max_size());
  const bool placed = q->set_size(q->max_size()) && q->set_desc_addr(rings.desc) && q->set_avail_addr(rings.avail) &&
                      q->set_used_addr(rings.used);
  if (!placed) return;
  if (auto error = q->enable(memory_)) {
    // Legacy has no NEEDS_RESET: the queue stays disabled (PFN reads 0).
    spdlog::warn("virtio: {} legacy PFN {:#x} refused ({})", q->label(), pfn, to_string(*error));
  }
}

uint32_t TransportCore::legacy_pfn() const {
  const Queue* q = selected_queue();
  return q && q->ready() ? static_cast<uint32_t>(q->desc_addr() >> 12) : 0;
}

// ---- Vectors ----------------------------------------------------------------------

uint16_t TransportCore::valid_vector_locked(uint16_t vector) const {
  return vector < pins_.msix_vectors() ? vector : kNoVector;
}

uint16_t TransportCore::config_vector() const {
  std::lock_guard lock(irq_mutex_);
  return config_vector_;
}

void TransportCore::write_config_vector(uint16_t vector) {
  std::lock_guard lock(irq_mutex_);
  config_vector_ = valid_vector_locked(vector);
}

uint16_t TransportCore::queue_vector() const {
  std::lock_guard lock(irq_mutex_);
  return queue_select_ < queue_vectors_.size() ? queue_vectors_[queue_select_] : kNoVector;
}

void TransportCore::write_queue_vector(uint16_t vector) {
  std::lock_guard lock(irq_mutex_);
  if (queue_select_ < queue_vectors_.size()) queue_vectors_[queue_select_] = valid_vector_locked(vector);
}

// ---- ISR, config ------------------------------------------------------------------

uint8_t TransportCore::read_isr() {
  std::lock_guard lock(irq_mutex_);
  const uint8_t isr = isr_;
  isr_ = 0;
  pins_.set_intx(false);
  return isr;
}

uint8_t TransportCore::config_generation() const {
  std::lock_guard lock(irq_mutex_);
  return config_generation_;
}

void TransportCore::read_device_config(uint64_t offset, std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), 0);
  const uint64_t size = device_.config_size();
  if (offset >= size) return;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size - offset));
  device_.read_config(static_cast<uint32_t>(offset), out.first(n));
}

void TransportCore::write_device_config(uint64_t offset, std::span<const uint8_t> in) {
  const uint64_t size = device_.config_size();
  if (offset >= size) return;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(in.size(), size - offset));
  device_.write_config(static_cast<uint32_t>(offset), in.first(n));
}

// ---- Interrupts -------------------------------------------------------------------

void TransportCore::deliver_locked(uint16_t vector, uint8_t isr_bit) {
  if (pins_.msix_enabled()) {
    if (vector != kNoVector && vector < pins_.msix_vectors()) pins_.msix_notify(vector);
    return;
  }
  isr_ |= isr_bit;
  pins_.set_intx(true);
}

void TransportCore::refresh_intx_locked() { pins_.set_intx(!pins_.msix_enabled() && isr_ != 0); }

void TransportCore::needs_reset_locked() {
  if (status_ & kStatusNeedsReset) return;
  status_ |= kStatusNeedsReset;
  if (status_ & kStatusDriverOk) deliver_locked(config_vector_, kIsrConfig);
}

void TransportCore::signal_used(uint16_t index) {
  std::lock_guard lock(irq_mutex_);
  // Checked under the lock: reset() clears active_ and then the ISR under
  // this lock, so a signal racing a reset can never leave an ISR bit behind.
  if (!active() || index >= queue_vectors_.size()) return;
  deliver_locked(queue_vectors_[index], kIsrQueue);
}

void TransportCore::signal_config_changed() {
  std::lock_guard lock(irq_mutex_);
  ++config_generation_;
  if (status_ & kStatusDriverOk) deliver_locked(config_vector_, kIsrConfig);
}

void TransportCore::set_needs_reset() {
  std::lock_guard lock(irq_mutex_);
  // From the device, about state that a reset has already discarded: drop.
  if (!active()) return;
  needs_reset_locked();
}

void TransportCore::dispatch_kick(uint16_t index) {
  if (index >= queues_.size()) return;
  std::shared_lock kick(kick_mutex_);
  if (!active()) return;  // kicks before DRIVER_OK or after reset are dropped
  device_.queue_notify(index);
}

// ---- Migration ----------------------------------------------------------------------

VirtioTransportState TransportCore::save() const {
  VirtioTransportState s;
  s.driver_features = driver_features_;
  s.device_feature_select = device_feature_select_;
  s.driver_feature_select = driver_feature_select_;
  s.queue_select = queue_select_;
  for (const auto& q : queues_) s.queues.push_back(q.save());
  std::lock_guard lock(irq_mutex_);
  s.status = status_;
  s.isr = isr_;
  s.config_generation = config_generation_;
  s.config_vector = config_vector_;
  s.queue_vectors = queue_vectors_;
  return s;
}

namespace {
bool reactivates(uint8_t status) {
  return (status & kStatusDriverOk) && !(status & (kStatusNeedsReset | kStatusFailed));
}
}  // namespace

std::optional<std::string> TransportCore::check(const VirtioTransportState& s) const {
  if (s.queues.size() != queues_.size())
    return "transport has " + std::to_string(s.queues.size()) + " queues, this device has " +
           std::to_string(queues_.size());
  if (s.queue_vectors.size() != queues_.size())
    return std::to_string(s.queue_vectors.size()) + " queue vectors for " + std::to_string(queues_.size()) + " queues";
  if (s.status & ~kKnownStatusBits) return "device status with unknown bits";
  // driver_features is a plain register until FEATURES_OK (a guest may write
  // any bits); only an accepted feature set has to make sense.
  if ((s.status & kStatusFeaturesOk) && !features_acceptable(s.driver_features))
    return "accepted features not offered or refused by this device";
  if ((s.status & kStatusDriverOk) && !(s.status & kStatusFeaturesOk) && mode_ != VirtioPciMode::kTransitional)
    return "DRIVER_OK without FEATURES_OK on a modern-only function";
  if (s.isr & ~(kIsrQueue | kIsrConfig)) return "ISR with unknown bits";
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (auto error = Queue::check(s.queues[i], queues_[i].max_size(), memory_))
      return "queue " + std::to_string(i) + ": " + std::string(to_string(*error));
  }
  return std::nullopt;
}

std::optional<std::string> TransportCore::check_device_fits(const VirtioTransportState& s, bool device_active,
                                                            uint64_t device_features) const {
  const bool driver_ok = s.status & kStatusDriverOk;
  if (device_active && !driver_ok) return "the device is active but the transport has no DRIVER_OK";
  if (!device_active && reactivates(s.status))
    return "the transport has DRIVER_OK (and no NEEDS_RESET) but the device is inactive";
  if (!device_active) return std::nullopt;
  const uint64_t negotiated = activation_features(s.driver_features, s.status);
  if (device_features != negotiated)
    return fmt::format("device features {:#x} differ from the {:#x} the driver negotiated", device_features,
                       negotiated);
  return std::nullopt;
}

bool TransportCore::restore(const VirtioTransportState& s) {
  if (check(s)) return false;
  std::vector<Queue> restored;
  restored.reserve(queues_.size());
  for (size_t i = 0; i < queues_.size(); ++i) {
    restored.emplace_back(queues_[i].max_size(), queues_[i].label());
    if (!restored.back().restore(s.queues[i], memory_)) return false;  // check() said it would not
  }

  {
    std::unique_lock kick(kick_mutex_);
    active_.store(false, std::memory_order_release);
    device_.reset();
  }
  queues_ = std::move(restored);
  driver_features_ = s.driver_features;
  device_feature_select_ = s.device_feature_select;
  driver_feature_select_ = s.driver_feature_select;
  queue_select_ = s.queue_select;
  {
    std::lock_guard lock(irq_mutex_);
    status_ = s.status;
    isr_ = s.isr;
    config_generation_ = s.config_generation;
    config_vector_ = valid_vector_locked(s.config_vector);
    for (size_t i = 0; i < queue_vectors_.size(); ++i) queue_vectors_[i] = valid_vector_locked(s.queue_vectors[i]);
    refresh_intx_locked();
  }
  if (reactivates(s.status)) activate();
  return true;
}

}  // namespace wren
