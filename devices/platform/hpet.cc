#include "devices/platform/hpet.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "hypervisor/little_endian.h"

namespace wren {
namespace {

constexpr uint64_t kCapabilitiesReg = 0x000;
constexpr uint64_t kConfigReg = 0x010;
constexpr uint64_t kStatusReg = 0x020;
constexpr uint64_t kCounterReg = 0x0f0;
constexpr uint64_t kTimerBase = 0x100;
constexpr uint64_t kTimerStride = 0x20;
constexpr uint64_t kTimerConfig = 0x00;
constexpr uint64_t kTimerComparator = 0x08;

constexpr uint64_t kRevisionId = 1;
constexpr unsigned kNumTimersShift = 8;
constexpr uint64_t kCounter64Capable = 1u << 13;
constexpr uint64_t kLegacyRouteCapable = 1u << 15;
constexpr unsigned kVendorShift = 16;

constexpr uint64_t kGeneralWritable = Hpet::kEnable | Hpet::kLegacyRoute;
constexpr uint64_t kAllTimersIsr = (1u << Hpet::kTimers) - 1;
// Arm no deadline further out than this (~3 hours of ticks), so deadline
// arithmetic cannot overflow; expire() re-arms for the rest.
constexpr uint64_t kMaxArmTicks = uint64_t{1} << 40;

uint64_t steady_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

bool mode32(const Hpet::TimerState& t) { return t.config & Hpet::kMode32; }

// Ticks until the counter reaches the comparator; 0 when it is not ahead
// (by the signed difference, in the timer's width).
uint64_t ticks_until(const Hpet::TimerState& t, uint64_t counter) {
  if (mode32(t)) {
    const auto diff = static_cast<int32_t>(static_cast<uint32_t>(t.comparator) - static_cast<uint32_t>(counter));
    return diff > 0 ? static_cast<uint64_t>(diff) : 0;
  }
  const auto diff = static_cast<int64_t>(t.comparator - counter);
  return diff > 0 ? static_cast<uint64_t>(diff) : 0;
}

}  // namespace

Hpet::Hpet(const IoApicLines& lines, Scheduler& scheduler, LegacyRouteCallback on_legacy_route, MonotonicClock clock)
    : lines_(lines),
      scheduler_(scheduler),
      on_legacy_route_(std::move(on_legacy_route)),
      clock_(clock ? std::move(clock) : MonotonicClock(steady_ns)) {
  delivered_.fill(false);  // lines start low
  base_ns_ = clock_();
}

uint64_t Hpet::capabilities() {
  return kRevisionId | (uint64_t{kTimers - 1} << kNumTimersShift) | kCounter64Capable | kLegacyRouteCapable |
         (uint64_t{kVendorId} << kVendorShift) | (uint64_t{kPeriodFs} << 32);
}

uint64_t Hpet::counter_locked(uint64_t now_ns) const {
  if (!running_locked()) return counter_;
  return counter_ + (now_ns > base_ns_ ? (now_ns - base_ns_) / kTickNs : 0);
}

uint64_t Hpet::counter() const {
  std::lock_guard lock(mutex_);
  return counter_locked(clock_());
}

void Hpet::fold_elapsed_locked() {
  const uint64_t now = clock_();
  counter_ = counter_locked(now);
  base_ns_ = now;
}

std::optional<unsigned> Hpet::pin_locked(unsigned n) const {
  if (config_ & kLegacyRoute) {
    if (n == 0) return kLegacyTimer0Pin;
    if (n == 1) return kLegacyTimer1Pin;
  }
  const auto route = static_cast<unsigned>((timers_[n].config & kRouteMask) >> kRouteShift);
  // A route outside the capability bitmap is the guest's mistake: no line.
  if (route >= layout::kNumIoApicPins || !(kRouteCapability & (1u << route))) return std::nullopt;
  return route;
}

void Hpet::sync_lines_locked() {
  std::array<bool, layout::kNumIoApicPins> want{};
  for (unsigned n = 0; n < kTimers; ++n) {
    if (!(isr_ & (1u << n))) continue;
    if (auto pin = pin_locked(n)) want[*pin] = true;
  }
  for (unsigned pin = 0; pin < want.size(); ++pin) {
    if (!(kRouteCapability & (1u << pin)) || !lines_[pin]) continue;
    if (delivered_[pin] == want[pin]) continue;
    lines_[pin]->set_level(want[pin]);
    delivered_[pin] = want[pin];
  }
}

uint64_t Hpet::read_register_locked(uint64_t reg, uint64_t now_ns) const {
  switch (reg) {
    case kCapabilitiesReg: return capabilities();
    case kConfigReg: return config_;
    case kStatusReg: return isr_;
    case kCounterReg: return counter_locked(now_ns);
    default: break;
  }
  if (reg >= kTimerBase && reg < kTimerBase + kTimers * kTimerStride) {
    const auto& t = timers_[(reg - kTimerBase) / kTimerStride];
    switch ((reg - kTimerBase) % kTimerStride) {
      case kTimerConfig: return t.config | kPeriodicCapable | kSize64Capable | (uint64_t{kRouteCapability} << 32);
      case kTimerComparator: return t.comparator;
      default: return 0;  // FSB route: not offered
    }
  }
  return 0;
}

void Hpet::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  const uint64_t now = clock_();
  // Register by register, so the two halves of an 8-byte read agree.
  uint64_t cached_reg = ~uint64_t{0}, value = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = offset + i;
    if (at / 8 * 8 != cached_reg) {
      cached_reg = at / 8 * 8;
      value = read_register_locked(cached_reg, now);
    }
    data[i] = static_cast<uint8_t>(value >> (8 * (at % 8)));
  }
}

void Hpet::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  size_t i = 0;
  while (i < data.size()) {
    const uint64_t reg = (offset + i) / 8 * 8;
    uint64_t value = 0, mask = 0;
    for (; i < data.size() && (offset + i) / 8 * 8 == reg; ++i) {
      const unsigned shift = 8 * static_cast<unsigned>((offset + i) % 8);
      value |= uint64_t{data[i]} << shift;
      mask |= uint64_t{0xff} << shift;
    }
    write_register_locked(reg, value, mask);
  }
}

void Hpet::write_register_locked(uint64_t reg, uint64_t value, uint64_t mask) {
  switch (reg) {
    case kConfigReg: write_config_locked((config_ & ~mask) | (value & mask)); return;
    case kStatusReg:
      isr_ &= ~(value & mask & kAllTimersIsr);
      sync_lines_locked();
      return;
    case kCounterReg:
      // Software halts the counter before setting it; a write while it runs is ignored.
      if (!(config_ & kEnable)) counter_ = (counter_ & ~mask) | (value & mask);
      return;
    default: break;
  }
  if (reg < kTimerBase || reg >= kTimerBase + kTimers * kTimerStride) return;  // read-only or reserved
  const auto n = static_cast<unsigned>((reg - kTimerBase) / kTimerStride);
  switch ((reg - kTimerBase) % kTimerStride) {
    case kTimerConfig: write_timer_config_locked(n, (timers_[n].config & ~mask) | (value & mask)); return;
    case kTimerComparator: write_comparator_locked(n, value, mask); return;
    default: return;  // FSB route: not offered
  }
}

void Hpet::write_config_locked(uint64_t value) {
  const uint64_t old = config_;
  const uint64_t now_config = value & kGeneralWritable;
  // Fold the elapsed ticks in before the bit that counts them changes.
  if ((old ^ now_config) & kEnable) fold_elapsed_locked();
  config_ = now_config;
  if (!(config_ & kEnable)) isr_ = 0;  // a halted HPET holds no line
  if (((old ^ config_) & kLegacyRoute) && on_legacy_route_) on_legacy_route_(config_ & kLegacyRoute);
  sync_lines_locked();
  schedule_all_locked();
}

void Hpet::write_timer_config_locked(unsigned n, uint64_t value) {
  auto& t = timers_[n];
  const uint64_t old = t.config;
  t.config = value & kTimerWritable;
  // A timer starts over when its interrupt is switched on or its mode
  // changes; other configuration writes leave a fired one-shot fired.
  const bool enabling = (t.config & kInterruptEnable) && !(old & kInterruptEnable);
  if (enabling || ((old ^ t.config) & (kPeriodic | kMode32))) t.armed = true;
  if (mode32(t)) {
    t.comparator = static_cast<uint32_t>(t.comparator);
    t.period = static_cast<uint32_t>(t.period);
  }
  // Only a level-triggered timer with interrupts on holds its line.
  if (!(t.config & kInterruptEnable) || !(t.config & kLevelTriggered)) isr_ &= ~(uint64_t{1} << n);
  sync_lines_locked();
  schedule_locked(n);
}

void Hpet::write_comparator_locked(unsigned n, uint64_t value, uint64_t mask) {
  auto& t = timers_[n];
  if (mode32(t)) mask &= 0xffffffffu;  // the upper half is ignored in 32-bit mode
  const bool periodic = t.config & kPeriodic;
  if (!periodic || (t.config & kValueSet)) t.comparator = (t.comparator & ~mask) | (value & mask);
  if (periodic) t.period = (t.period & ~mask) | (value & mask);
  t.config &= ~kValueSet;
  t.armed = true;
  schedule_locked(n);
}

void Hpet::schedule_locked(unsigned n, uint64_t not_before_ns) {
  const auto& t = timers_[n];
  if (!running_locked() || !(t.config & kInterruptEnable) || !t.armed) {
    scheduler_.cancel(n);
    return;
  }
  const uint64_t now = clock_();
  const uint64_t ticks = std::min(ticks_until(t, counter_locked(now)), kMaxArmTicks);
  // The instant the counter reaches the comparator, not now + ticks: the
  // current tick is partly over.
  const uint64_t elapsed_ticks = now > base_ns_ ? (now - base_ns_) / kTickNs : 0;
  uint64_t deadline = base_ns_ + (elapsed_ticks + ticks) * kTickNs;
  if (deadline < now) deadline = now;
  scheduler_.arm(n, std::max(deadline, not_before_ns));
}

void Hpet::schedule_all_locked() {
  for (unsigned n = 0; n < kTimers; ++n) schedule_locked(n);
}

void Hpet::expire(unsigned n) {
  if (n >= kTimers) return;
  std::lock_guard lock(mutex_);
  auto& t = timers_[n];
  if (!running_locked() || !(t.config & kInterruptEnable) || !t.armed) return;
  const uint64_t now = clock_();
  if (ticks_until(t, counter_locked(now)) > 0) {  // early or re-armed meanwhile
    schedule_locked(n);
    return;
  }
  fire_locked(n, now);
}

void Hpet::fire_locked(unsigned n, uint64_t now_ns) {
  auto& t = timers_[n];
  const bool periodic = (t.config & kPeriodic) && t.period != 0;
  if (periodic) {
    // Advance by whole periods past the counter (missed ones coalesce).
    const uint64_t counter = counter_locked(now_ns);
    if (mode32(t)) {
      const uint32_t behind = static_cast<uint32_t>(counter) - static_cast<uint32_t>(t.comparator);
      const uint64_t periods = behind / t.period + 1;
      t.comparator = static_cast<uint32_t>(t.comparator + periods * t.period);
    } else {
      const uint64_t behind = counter - t.comparator;
      t.comparator += (behind / t.period + 1) * t.period;
    }
  } else {
    t.armed = false;
  }
  if (auto pin = pin_locked(n)) {
    if (t.config & kLevelTriggered) {
      isr_ |= uint64_t{1} << n;
      sync_lines_locked();
    } else if (IrqLine* line = lines_[*pin]) {
      line->set_level(true);
      line->set_level(delivered_[*pin].value_or(false));
    }
  }
  if (periodic) schedule_locked(n, now_ns + kMinIntervalNs);
}

void Hpet::pause() {
  std::lock_guard lock(mutex_);
  if (paused_) return;
  fold_elapsed_locked();
  paused_ = true;
  for (unsigned n = 0; n < kTimers; ++n) scheduler_.cancel(n);
}

void Hpet::resume() {
  std::lock_guard lock(mutex_);
  if (!paused_) return;
  paused_ = false;
  base_ns_ = clock_();
  schedule_all_locked();
}

Hpet::State Hpet::save() const {
  std::lock_guard lock(mutex_);
  State s;
  s.config = config_;
  s.isr = isr_;
  s.counter = counter_locked(clock_());
  s.timers = timers_;
  return s;
}

bool Hpet::valid(const State& s) {
  if (s.config & ~kGeneralWritable) return false;
  if (s.isr & ~kAllTimersIsr) return false;
  for (unsigned n = 0; n < kTimers; ++n) {
    const auto& t = s.timers[n];
    if (t.config & ~kTimerWritable) return false;
    if (mode32(t) && (t.comparator >> 32 || t.period >> 32)) return false;
    const bool holds_line = (t.config & kInterruptEnable) && (t.config & kLevelTriggered) && (s.config & kEnable);
    if ((s.isr & (uint64_t{1} << n)) && !holds_line) return false;
  }
  return true;
}

bool Hpet::restore(const State& s) {
  if (!valid(s)) return false;
  std::lock_guard lock(mutex_);
  const bool legacy_changed = (config_ ^ s.config) & kLegacyRoute;
  config_ = s.config;
  isr_ = s.isr;
  counter_ = s.counter;
  base_ns_ = clock_();
  timers_ = s.timers;
  delivered_.fill(std::nullopt);  // whatever the lines hold, set them again
  if (legacy_changed && on_legacy_route_) on_legacy_route_(config_ & kLegacyRoute);
  sync_lines_locked();
  schedule_all_locked();
  return true;
}

}  // namespace wren
