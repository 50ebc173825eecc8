#pragma once
// The ACPI fixed-hardware power-management registers the FADT points at, as
// one device spanning layout::kPortAcpiPm1aEvt .. kPortAcpiPmTimer + 4:
//   +0  PM1a_STS (2 bytes, write 1 to clear)   +2  PM1a_EN (2 bytes)
//   +4  PM1a_CNT (2 bytes)                     +6  unused (reads 0)
//   +8  PM_TMR   (4 bytes, 24-bit, 3.579545 MHz, read-only)
// The machine has no SMM or legacy mode, so SCI_EN always reads 1. Writing
// SLP_EN with SLP_TYP 5 (our \_S5 value: the DSDT must say 5) powers off.
// The only event source is the power button (press_power_button()), which
// raises the SCI when the guest has enabled PWRBTN_EN. TMR_STS is never set
// (no timer-overflow event), so TMR_EN has no effect.
//
// Threading: one mutex guards the registers; on_poweroff and the SCI line
// are called with it released. on_poweroff runs on the vCPU thread and
// should only request a stop from the machine.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "hypervisor/io_bus.h"
#include "hypervisor/irq.h"
#include "hypervisor/layout.h"

namespace wren {

class AcpiPm final : public BusDevice {
 public:
  using PowerOffCallback = std::function<void()>;
  using MonotonicClock = std::function<uint64_t()>;  // nanoseconds, never decreasing

  static constexpr uint64_t kBase = layout::kPortAcpiPm1aEvt;
  static constexpr uint64_t kLength = layout::kPortAcpiPmTimer + 4 - layout::kPortAcpiPm1aEvt;
  static_assert(layout::kPortAcpiPm1aCnt == kBase + 4 && layout::kPortAcpiPmTimer == kBase + 8,
                "AcpiPm expects the PM1a event, control and timer blocks to be laid out contiguously");

  static constexpr uint64_t kTimerHz = 3579545;
  static constexpr uint32_t kTimerMask = 0xffffff;  // 24-bit counter (FADT TMR_VAL_EXT = 0)
  static constexpr uint16_t kSleepTypeSoftOff = 5;  // SLP_TYP that powers off

  struct State {
    uint16_t pm1_status = 0;   // only PWRBTN_STS is ever set
    uint16_t pm1_enable = 0;   // TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN
    uint16_t pm1_control = 0;  // BM_RLD and SLP_TYP; SCI_EN implied, SLP_EN write-only
    uint32_t timer = 0;        // PM timer value at save time, < 2^24
  };

  // `sci` may be null (no power-button events then); it must outlive the
  // device. `clock` defaults to std::chrono::steady_clock.
  AcpiPm(IrqLine* sci, PowerOffCallback on_poweroff, MonotonicClock clock = {});

  // Any width, any offset within the range; bytes are combined per register.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Host request for an orderly shutdown (ACPI fixed power button).
  void press_power_button();

  uint32_t timer_value() const;

  State save() const;
  // Refuses bits outside the implemented masks or a timer >= 2^24. The timer
  // continues counting from the saved value.
  [[nodiscard]] bool restore(const State& state);
  [[nodiscard]] static bool valid(const State& state);

 private:
  uint8_t read_byte_locked(uint64_t offset, uint32_t timer) const;
  uint32_t timer_locked() const;
  bool sci_level_locked() const;
  void update_sci();

  IrqLine* const sci_;
  const PowerOffCallback on_poweroff_;
  const MonotonicClock clock_;

  mutable std::mutex mutex_;
  uint16_t status_ = 0;
  uint16_t enable_ = 0;
  uint16_t control_ = 0;
  uint64_t timer_base_ns_ = 0;  // clock reading at which the counter was timer_start_
  uint32_t timer_start_ = 0;

  std::mutex sci_mutex_;                        // serializes level delivery; taken before mutex_
  std::optional<bool> delivered_level_{false};  // lines start low; unknown after restore
};

}  // namespace wren
