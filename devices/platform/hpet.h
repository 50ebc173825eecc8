#pragma once
// The High Precision Event Timer (IA-PC HPET specification 1.0a) at
// 0xfed00000: a 64-bit main counter at 100 MHz and three comparators, each
// one-shot or periodic, 64- or 32-bit, edge- or level-triggered, routed to
// an IOAPIC input, or through the legacy replacement route (timer 0 to
// input 2, where the MADT puts IRQ0; timer 1 to input 8, IRQ8). No FSB
// (MSI) delivery. Register map, 64-bit registers reached with 4- or 8-byte
// accesses (any other width works byte by byte):
//   0x000 capabilities and ID (RO)   0x010 configuration (ENABLE, LEG_RT)
//   0x020 interrupt status (W1C)     0x0f0 main counter (writable while halted)
//   0x100 + 0x20 n: timer n configuration/capabilities, comparator, FSB route
//
// Behaviour chosen where the specification leaves room, as QEMU does: a
// comparator that is not ahead of the counter (by the signed difference, in
// 32-bit mode of the low halves) fires at once; a one-shot timer fires once
// per comparator write or switch-on of its interrupt (or change of mode); a periodic timer's comparator
// write sets its period (and the comparator too with VAL_SET); no interrupt
// on a 32-bit wrap. Periodic interrupts closer than kMinIntervalNs together
// are coalesced (the comparator still advances by whole periods).
//
// The counter is derived from a host monotonic clock while the HPET is
// enabled and the VM runs; pause() freezes it (and the timers) and resume()
// continues from the frozen value, so a paused VM sees no time pass. Timers
// are armed through a Scheduler that calls expire() on the device thread.
//
// Threading: one mutex guards all state; IRQ lines, the scheduler and the
// legacy-route callback are called with it held (they must not call back).
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "hypervisor/io_bus.h"
#include "hypervisor/irq.h"
#include "hypervisor/layout.h"

namespace wren {

class Hpet final : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0xfed00000;
  static constexpr uint64_t kLength = 0x400;
  static constexpr unsigned kTimers = 3;
  static constexpr uint64_t kTickNs = 10;              // 100 MHz, as QEMU's HPET
  static constexpr uint32_t kPeriodFs = 10'000'000;    // the same tick in femtoseconds
  static constexpr uint16_t kVendorId = 0x8086;        // what guests expect (QEMU's value)
  static constexpr uint64_t kMinIntervalNs = 100'000;  // periodic interrupt rate cap: 10 kHz
  static constexpr unsigned kLegacyTimer0Pin = 2;      // IRQ0 on the IOAPIC (MADT override)
  static constexpr unsigned kLegacyTimer1Pin = 8;      // IRQ8
  // IOAPIC inputs a timer may be routed to: 2, 8 and 20..23 (16..19 carry PCI INTx).
  static constexpr uint32_t kRouteCapability = (1u << 2) | (1u << 8) | 0x00f00000u;

  // General configuration bits.
  static constexpr uint64_t kEnable = 1u << 0;
  static constexpr uint64_t kLegacyRoute = 1u << 1;
  // Timer configuration bits the guest sets.
  static constexpr uint64_t kLevelTriggered = 1u << 1;
  static constexpr uint64_t kInterruptEnable = 1u << 2;
  static constexpr uint64_t kPeriodic = 1u << 3;
  static constexpr uint64_t kValueSet = 1u << 6;
  static constexpr uint64_t kMode32 = 1u << 8;
  static constexpr unsigned kRouteShift = 9;
  static constexpr uint64_t kRouteMask = 0x1fu << kRouteShift;
  static constexpr uint64_t kTimerWritable =
      kLevelTriggered | kInterruptEnable | kPeriodic | kValueSet | kMode32 | kRouteMask;
  // Timer capability bits (read-only).
  static constexpr uint64_t kPeriodicCapable = 1u << 4;
  static constexpr uint64_t kSize64Capable = 1u << 5;

  // nanoseconds, never decreasing
  using MonotonicClock = std::function<uint64_t()>;
  // Told when the legacy replacement route turns on or off (the machine then
  // silences or restores the PIT's IRQ0, as on real chipsets).
  using LegacyRouteCallback = std::function<void(bool on)>;
  // `lines[n]` drives IOAPIC input n (null: not wired).
  using IoApicLines = std::array<IrqLine*, layout::kNumIoApicPins>;

  // Arms one deadline per timer, on the clock the HPET was given; at or
  // after it the device thread calls expire(timer). Arming again replaces
  // the deadline. Early, late or spurious expire() calls are harmless.
  class Scheduler {
   public:
    virtual ~Scheduler() = default;
    virtual void arm(unsigned timer, uint64_t deadline_ns) = 0;
    virtual void cancel(unsigned timer) = 0;
  };

  struct TimerState {
    uint64_t config = 0;      // kTimerWritable bits only
    uint64_t comparator = 0;  // < 2^32 in 32-bit mode
    uint64_t period = 0;      // periodic mode; < 2^32 in 32-bit mode
    bool armed = false;       // will fire when the counter reaches the comparator
  };
  struct State {
    uint64_t config = 0;   // kEnable | kLegacyRoute
    uint64_t isr = 0;      // one bit per level-triggered timer holding its line
    uint64_t counter = 0;  // main counter at save time
    std::array<TimerState, kTimers> timers{};
  };

  // `lines`, `scheduler` must outlive the device. `clock` defaults to
  // std::chrono::steady_clock (then the scheduler's deadlines are
  // steady_clock time points in ns).
  Hpet(const IoApicLines& lines, Scheduler& scheduler, LegacyRouteCallback on_legacy_route = {},
       MonotonicClock clock = {});

  // The capabilities and ID register (the ACPI HPET table repeats its low half).
  static uint64_t capabilities();

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Device thread: a deadline from the scheduler passed.
  void expire(unsigned timer);

  // The VM stops and continues: the counter and timers freeze in between.
  void pause();
  void resume();

  uint64_t counter() const;

  State save() const;
  // Refuses bits outside the implemented masks, an ISR bit for a timer that
  // is not level-triggered with interrupts on, or 32-bit-mode values of
  // 2^32 or more. The counter continues from the saved value.
  [[nodiscard]] bool restore(const State& state);
  [[nodiscard]] static bool valid(const State& state);

 private:
  bool running_locked() const { return (config_ & kEnable) && !paused_; }
  uint64_t counter_locked(uint64_t now_ns) const;
  uint64_t read_register_locked(uint64_t reg, uint64_t now_ns) const;
  void write_register_locked(uint64_t reg, uint64_t value, uint64_t mask);
  void write_config_locked(uint64_t value);
  void write_timer_config_locked(unsigned n, uint64_t value);
  void write_comparator_locked(unsigned n, uint64_t value, uint64_t mask);
  // counter_ = the counter now, base_ns_ = now.
  void fold_elapsed_locked();
  std::optional<unsigned> pin_locked(unsigned n) const;
  void fire_locked(unsigned n, uint64_t now_ns);
  void schedule_locked(unsigned n, uint64_t not_before_ns = 0);
  void schedule_all_locked();
  void sync_lines_locked();

  const IoApicLines lines_;
  Scheduler& scheduler_;
  const LegacyRouteCallback on_legacy_route_;
  const MonotonicClock clock_;

  mutable std::mutex mutex_;
  uint64_t config_ = 0;
  uint64_t isr_ = 0;
  uint64_t counter_ = 0;  // the counter's value at base_ns_ (or frozen)
  uint64_t base_ns_ = 0;
  bool paused_ = false;
  std::array<TimerState, kTimers> timers_{};
  // Levels the lines were last given; unknown (re-sent) after restore.
  std::array<std::optional<bool>, layout::kNumIoApicPins> delivered_{};
};

}  // namespace wren
