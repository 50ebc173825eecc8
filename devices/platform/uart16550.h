#pragma once
// A 16550A UART as Linux's 8250 driver expects to find it at COM1: it passes
// the driver's IER and loopback probes, reports FIFOs in IIR bits 6-7 and no
// EFR, so autoconfig settles on "16550A". Output is synchronous (THR is empty
// again as soon as a byte is written), input arrives through push_input().
//
// Threading: read()/write() run on vCPU threads, push_input() on the event
// loop thread. Device state is guarded by one mutex; the output sink and the
// IRQ line are called *without* that mutex held (each has its own small
// mutex so calls are serialized and bytes/levels arrive in order). Neither
// the sink nor the IrqLine may call back into this device.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "hypervisor/io_bus.h"
#include "hypervisor/irq.h"

namespace wren {

class Uart16550 final : public BusDevice {
 public:
  using OutputSink = std::function<void(std::span<const uint8_t>)>;

  static constexpr uint64_t kLength = 8;          // bus range: 8 byte-wide registers
  static constexpr size_t kInputCapacity = 4096;  // receive FIFO as seen by the host

  // Guest-visible state. LSR and the MSR status bits are derived (THRE/TEMT
  // always set, DR from the FIFO, MSR from MCR), so they are not stored.
  struct State {
    uint8_t ier = 0;  // bits 0-3 only
    uint8_t lcr = 0;
    uint8_t mcr = 0;  // bits 0-4 only
    uint8_t fcr = 0;  // persistent FCR bits: enable, DMA mode, trigger level
    uint8_t scr = 0;
    uint8_t dll = 0x0c;  // 9600 baud, as after a BIOS
    uint8_t dlm = 0;
    uint8_t msr_deltas = 0;  // MSR bits 0-3 (DCTS, DDSR, TERI, DDCD)
    bool overrun = false;    // LSR.OE, cleared by reading LSR
    bool thr_interrupt_pending = false;
    std::vector<uint8_t> rx_fifo;  // at most kInputCapacity bytes
  };

  // `irq` may be null (polled use, tests); it must outlive the device.
  // `sink` receives every byte the guest transmits (not in loopback mode);
  // it runs on the vCPU thread that wrote THR, so it should not block long.
  Uart16550(IrqLine* irq, OutputSink sink);

  // Byte accesses only; wider accesses read 0xff and are ignored on write.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Queue bytes received from the host side. Returns how many were accepted;
  // the rest are dropped, counted and reported to the guest as an overrun.
  size_t push_input(std::span<const uint8_t> bytes);
  // Free space in the receive FIFO, so the event loop can apply back-pressure
  // instead of dropping.
  size_t input_space() const;
  uint64_t dropped_input_bytes() const;

  State save() const;
  // Refuses (returns false, changes nothing) state with reserved bits set or
  // an oversized FIFO. Re-evaluates the IRQ line from the restored state.
  [[nodiscard]] bool restore(const State& state);
  [[nodiscard]] static bool valid(const State& state);

 private:
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  void write_thr(uint8_t value);
  uint8_t pending_cause_locked() const;
  uint8_t msr_status_locked() const;
  void set_mcr_locked(uint8_t value);
  void clear_rx_locked();
  // Recomputes the interrupt level and tells the IrqLine if it changed.
  // Must be called with mutex_ NOT held.
  void update_irq();

  IrqLine* const irq_;
  const OutputSink sink_;

  mutable std::mutex mutex_;  // guards everything below up to the next mutex
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t fcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t dll_ = 0x0c;
  uint8_t dlm_ = 0;
  uint8_t msr_deltas_ = 0;
  bool overrun_ = false;
  bool thr_pending_ = false;
  std::deque<uint8_t> rx_;
  uint64_t dropped_input_ = 0;

  std::mutex sink_mutex_;                       // orders transmitted bytes; taken before mutex_
  std::mutex irq_mutex_;                        // serializes level delivery; taken before mutex_
  std::optional<bool> delivered_level_{false};  // lines start low; unknown after restore
};

}  // namespace wren
