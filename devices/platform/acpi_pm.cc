#include "devices/platform/acpi_pm.h"

#include <chrono>
#include <utility>

namespace wren {
namespace {

constexpr uint64_t kStatusOffset = 0;
constexpr uint64_t kEnableOffset = 2;
constexpr uint64_t kControlOffset = 4;
constexpr uint64_t kTimerOffset = 8;

constexpr uint16_t kStatusPowerButton = 1u << 8;
constexpr uint16_t kStatusImplemented = kStatusPowerButton;

constexpr uint16_t kEnableTimer = 1u << 0;
constexpr uint16_t kEnableGlobal = 1u << 5;
constexpr uint16_t kEnablePowerButton = 1u << 8;
constexpr uint16_t kEnableSleepButton = 1u << 9;
constexpr uint16_t kEnableRtc = 1u << 10;
constexpr uint16_t kEnableImplemented =
    kEnableTimer | kEnableGlobal | kEnablePowerButton | kEnableSleepButton | kEnableRtc;

constexpr uint16_t kControlSciEnable = 1u << 0;
constexpr uint16_t kControlBusMasterReload = 1u << 1;
constexpr unsigned kControlSleepTypeShift = 10;
constexpr uint16_t kControlSleepTypeMask = 0x7u << kControlSleepTypeShift;
constexpr uint16_t kControlSleepEnable = 1u << 13;
constexpr uint16_t kControlStored = kControlBusMasterReload | kControlSleepTypeMask;

uint64_t steady_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

uint16_t merge_byte(uint16_t reg, unsigned byte_index, uint8_t value) {
  const unsigned shift = 8 * byte_index;
  return static_cast<uint16_t>((reg & ~(0xffu << shift)) | (unsigned{value} << shift));
}

}  // namespace

AcpiPm::AcpiPm(IrqLine* sci, PowerOffCallback on_poweroff, MonotonicClock clock)
    : sci_(sci), on_poweroff_(std::move(on_poweroff)), clock_(clock ? std::move(clock) : MonotonicClock(steady_ns)) {
  timer_base_ns_ = clock_();
}

uint32_t AcpiPm::timer_locked() const {
  const uint64_t now = clock_();
  const uint64_t elapsed = now > timer_base_ns_ ? now - timer_base_ns_ : 0;
  // 128-bit intermediate: elapsed * 3.58e6 overflows 64 bits after ~85 minutes.
  const auto ticks = static_cast<uint64_t>(static_cast<unsigned __int128>(elapsed) * kTimerHz / 1'000'000'000u);
  return static_cast<uint32_t>((timer_start_ + ticks) & kTimerMask);
}

uint8_t AcpiPm::read_byte_locked(uint64_t offset, uint32_t timer) const {
  auto byte_of = [](uint32_t reg, uint64_t index) { return static_cast<uint8_t>(reg >> (8 * index)); };
  if (offset < kEnableOffset) return byte_of(status_, offset - kStatusOffset);
  if (offset < kControlOffset) return byte_of(enable_, offset - kEnableOffset);
  if (offset < kControlOffset + 2) return byte_of(control_ | kControlSciEnable, offset - kControlOffset);
  if (offset >= kTimerOffset && offset < kTimerOffset + 4) return byte_of(timer, offset - kTimerOffset);
  return 0;  // the gap between the control block and the timer
}

void AcpiPm::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  // One timer sample per access, so a 4-byte read is consistent.
  const uint32_t timer = timer_locked();
  for (size_t i = 0; i < data.size(); ++i) data[i] = read_byte_locked(offset + i, timer);
}

void AcpiPm::write(uint64_t offset, std::span<const uint8_t> data) {
  bool poweroff = false;
  {
    std::lock_guard lock(mutex_);
    uint16_t clear_status = 0;
    uint16_t enable = enable_;
    uint16_t control = control_;
    bool control_written = false;
    for (size_t i = 0; i < data.size(); ++i) {
      const uint64_t at = offset + i;
      if (at < kEnableOffset) {
        clear_status = merge_byte(clear_status, static_cast<unsigned>(at - kStatusOffset), data[i]);
      } else if (at < kControlOffset) {
        enable = merge_byte(enable, static_cast<unsigned>(at - kEnableOffset), data[i]);
      } else if (at < kControlOffset + 2) {
        control = merge_byte(control, static_cast<unsigned>(at - kControlOffset), data[i]);
        control_written = true;
      }
      // The timer and the gap are read-only.
    }
    status_ &= static_cast<uint16_t>(~clear_status);
    enable_ = enable & kEnableImplemented;
    if (control_written) {
      control_ = control & kControlStored;
      const unsigned sleep_type = (control & kControlSleepTypeMask) >> kControlSleepTypeShift;
      poweroff = (control & kControlSleepEnable) && sleep_type == kSleepTypeSoftOff;
      // Other sleep states are not supported: SLP_EN with them does nothing.
    }
  }
  update_sci();
  if (poweroff && on_poweroff_) on_poweroff_();
}

void AcpiPm::press_power_button() {
  {
    std::lock_guard lock(mutex_);
    status_ |= kStatusPowerButton;
  }
  update_sci();
}

uint32_t AcpiPm::timer_value() const {
  std::lock_guard lock(mutex_);
  return timer_locked();
}

bool AcpiPm::sci_level_locked() const { return (status_ & enable_ & kStatusImplemented) != 0; }

void AcpiPm::update_sci() {
  if (!sci_) return;
  std::lock_guard deliver(sci_mutex_);
  bool level = false;
  {
    std::lock_guard lock(mutex_);
    level = sci_level_locked();
  }
  if (delivered_level_ == level) return;
  delivered_level_ = level;
  sci_->set_level(level);
}

AcpiPm::State AcpiPm::save() const {
  std::lock_guard lock(mutex_);
  return State{status_, enable_, control_, timer_locked()};
}

bool AcpiPm::valid(const State& s) {
  if (s.pm1_status & ~kStatusImplemented) return false;
  if (s.pm1_enable & ~kEnableImplemented) return false;
  if (s.pm1_control & ~kControlStored) return false;
  if (s.timer > kTimerMask) return false;
  return true;
}

bool AcpiPm::restore(const State& s) {
  if (!valid(s)) return false;
  {
    std::lock_guard lock(mutex_);
    status_ = s.pm1_status;
    enable_ = s.pm1_enable;
    control_ = s.pm1_control;
    timer_start_ = s.timer;
    timer_base_ns_ = clock_();
  }
  {
    std::lock_guard deliver(sci_mutex_);
    delivered_level_.reset();
  }
  update_sci();
  return true;
}

}  // namespace wren
