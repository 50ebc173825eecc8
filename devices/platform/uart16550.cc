#include "devices/platform/uart16550.h"

#include <algorithm>
#include <utility>

namespace wren {
namespace {

// Register offsets (DLAB selects DLL/DLM at 0/1).
constexpr uint64_t kRbrThr = 0;
constexpr uint64_t kIer = 1;
constexpr uint64_t kIirFcr = 2;
constexpr uint64_t kLcr = 3;
constexpr uint64_t kMcr = 4;
constexpr uint64_t kLsr = 5;
constexpr uint64_t kMsr = 6;
constexpr uint64_t kScr = 7;

constexpr uint8_t kIerRxData = 0x01;
constexpr uint8_t kIerThrEmpty = 0x02;
constexpr uint8_t kIerLineStatus = 0x04;
constexpr uint8_t kIerModemStatus = 0x08;
constexpr uint8_t kIerMask = 0x0f;  // upper bits read as 0, which keeps Linux from seeing an XScale UART

// IIR interrupt identification, highest priority first.
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirFifoEnabled = 0xc0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kFcrPersistent = 0xc9;  // enable, DMA mode, trigger level

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrMask = 0x1f;

constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrTxEmpty = 0x40;

constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
constexpr uint8_t kMsrDeltaCts = 0x01;
constexpr uint8_t kMsrDeltaDsr = 0x02;
constexpr uint8_t kMsrTrailingRi = 0x04;
constexpr uint8_t kMsrDeltaDcd = 0x08;
constexpr uint8_t kMsrDeltaMask = 0x0f;
// Outside loopback the "cable" is always connected and ready.
constexpr uint8_t kMsrConnected = kMsrDcd | kMsrDsr | kMsrCts;

}  // namespace

Uart16550::Uart16550(IrqLine* irq, OutputSink sink) : irq_(irq), sink_(std::move(sink)) {}

void Uart16550::read(uint64_t offset, std::span<uint8_t> data) {
  if (data.size() != 1 || offset >= kLength) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  data[0] = read_register(offset);
  update_irq();
}

void Uart16550::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1 || offset >= kLength) return;
  if (offset == kRbrThr) {
    write_thr(data[0]);
  } else {
    write_register(offset, data[0]);
  }
  update_irq();
}

uint8_t Uart16550::read_register(uint64_t offset) {
  std::lock_guard lock(mutex_);
  const bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kRbrThr: {
      if (dlab) return dll_;
      if (rx_.empty()) return 0;
      uint8_t byte = rx_.front();
      rx_.pop_front();
      return byte;
    }
    case kIer: return dlab ? dlm_ : ier_;
    case kIirFcr: {
      // No EFR behind DLAB: this reads IIR whatever LCR holds, which is what
      // tells Linux's autoconfig there is no 16650-style EFR.
      uint8_t cause = pending_cause_locked();
      // Reading IIR acknowledges a THRE interrupt when it is the one reported.
      if (cause == kIirThrEmpty) thr_pending_ = false;
      return cause | ((fcr_ & kFcrEnable) ? kIirFifoEnabled : 0);
    }
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: {
      uint8_t lsr = kLsrThrEmpty | kLsrTxEmpty;
      if (!rx_.empty()) lsr |= kLsrDataReady;
      if (overrun_) lsr |= kLsrOverrun;
      overrun_ = false;  // error bits clear on read
      return lsr;
    }
    case kMsr: {
      uint8_t msr = msr_status_locked() | msr_deltas_;
      msr_deltas_ = 0;
      return msr;
    }
    case kScr: return scr_;
  }
  return 0xff;
}

void Uart16550::write_register(uint64_t offset, uint8_t value) {
  std::lock_guard lock(mutex_);
  const bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kIer: {
      if (dlab) {
        dlm_ = value;
        break;
      }
      uint8_t old = ier_;
      ier_ = value & kIerMask;
      // Enabling ETBEI while THR is empty (always, here) raises THRE again
      // even if an earlier IIR read acknowledged it; Linux's startup test for
      // UART_BUG_THRE depends on this. Disabling it drops the pending THRE.
      if ((old ^ ier_) & kIerThrEmpty) thr_pending_ = (ier_ & kIerThrEmpty) != 0;
      break;
    }
    case kIirFcr: {
      uint8_t next = (value & kFcrEnable) ? (value & kFcrPersistent) : 0;
      // Toggling the FIFO enable resets the FIFOs, as does the clear bit.
      if (((next ^ fcr_) & kFcrEnable) || (value & kFcrClearRx)) clear_rx_locked();
      fcr_ = next;
      break;
    }
    case kLcr: lcr_ = value; break;
    case kMcr: set_mcr_locked(value & kMcrMask); break;
    case kScr: scr_ = value; break;
    default:  // LSR and MSR are read-only (factory test writes are ignored)
      break;
  }
}

void Uart16550::write_thr(uint8_t value) {
  // sink_mutex_ is taken first so bytes from concurrent vCPUs reach the sink
  // in the order they were accepted, without holding mutex_ during the call.
  std::lock_guard out(sink_mutex_);
  bool transmit = false;
  {
    std::lock_guard lock(mutex_);
    if (lcr_ & kLcrDlab) {
      dll_ = value;
      return;
    }
    if (mcr_ & kMcrLoop) {
      if (rx_.size() < kInputCapacity) {
        rx_.push_back(value);
      } else {
        overrun_ = true;
      }
    } else {
      transmit = true;
    }
    // Transmission is instantaneous: THR is empty again right away.
    thr_pending_ = true;
  }
  if (transmit && sink_) sink_(std::span<const uint8_t>(&value, 1));
}

size_t Uart16550::push_input(std::span<const uint8_t> bytes) {
  size_t accepted = 0;
  {
    std::lock_guard lock(mutex_);
    accepted = std::min(bytes.size(), kInputCapacity - rx_.size());
    rx_.insert(rx_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(accepted));
    if (accepted < bytes.size()) {
      dropped_input_ += bytes.size() - accepted;
      overrun_ = true;
    }
  }
  update_irq();
  return accepted;
}

size_t Uart16550::input_space() const {
  std::lock_guard lock(mutex_);
  return kInputCapacity - rx_.size();
}

uint64_t Uart16550::dropped_input_bytes() const {
  std::lock_guard lock(mutex_);
  return dropped_input_;
}

uint8_t Uart16550::pending_cause_locked() const {
  if ((ier_ & kIerLineStatus) && overrun_) return kIirLineStatus;
  if ((ier_ & kIerRxData) && !rx_.empty()) return kIirRxData;
  if ((ier_ & kIerThrEmpty) && thr_pending_) return kIirThrEmpty;
  if ((ier_ & kIerModemStatus) && (msr_deltas_ & kMsrDeltaMask)) return kIirModemStatus;
  return kIirNone;
}

uint8_t Uart16550::msr_status_locked() const {
  if (!(mcr_ & kMcrLoop)) return kMsrConnected;
  // Loopback wires the modem outputs back to the inputs.
  uint8_t msr = 0;
  if (mcr_ & kMcrRts) msr |= kMsrCts;
  if (mcr_ & kMcrDtr) msr |= kMsrDsr;
  if (mcr_ & kMcrOut1) msr |= kMsrRi;
  if (mcr_ & kMcrOut2) msr |= kMsrDcd;
  return msr;
}

void Uart16550::set_mcr_locked(uint8_t value) {
  uint8_t before = msr_status_locked();
  mcr_ = value;
  uint8_t after = msr_status_locked();
  uint8_t changed = before ^ after;
  if (changed & kMsrCts) msr_deltas_ |= kMsrDeltaCts;
  if (changed & kMsrDsr) msr_deltas_ |= kMsrDeltaDsr;
  if ((before & kMsrRi) && !(after & kMsrRi)) msr_deltas_ |= kMsrTrailingRi;
  if (changed & kMsrDcd) msr_deltas_ |= kMsrDeltaDcd;
}

void Uart16550::clear_rx_locked() { rx_.clear(); }

void Uart16550::update_irq() {
  if (!irq_) return;
  std::lock_guard deliver(irq_mutex_);
  bool level = false;
  {
    std::lock_guard lock(mutex_);
    level = pending_cause_locked() != kIirNone;
  }
  // Each call re-reads the current state, so whichever call delivers last
  // delivers the latest level.
  if (delivered_level_ == level) return;
  delivered_level_ = level;
  irq_->set_level(level);
}

Uart16550::State Uart16550::save() const {
  std::lock_guard lock(mutex_);
  State s;
  s.ier = ier_;
  s.lcr = lcr_;
  s.mcr = mcr_;
  s.fcr = fcr_;
  s.scr = scr_;
  s.dll = dll_;
  s.dlm = dlm_;
  s.msr_deltas = msr_deltas_;
  s.overrun = overrun_;
  s.thr_interrupt_pending = thr_pending_;
  s.rx_fifo.assign(rx_.begin(), rx_.end());
  return s;
}

bool Uart16550::valid(const State& s) {
  if (s.ier & ~kIerMask) return false;
  if (s.mcr & ~kMcrMask) return false;
  if (s.fcr & ~kFcrPersistent) return false;
  if (s.fcr != 0 && !(s.fcr & kFcrEnable)) return false;  // bits only stick with FIFOs on
  if (s.msr_deltas & ~kMsrDeltaMask) return false;
  if (s.rx_fifo.size() > kInputCapacity) return false;
  return true;
}

bool Uart16550::restore(const State& s) {
  if (!valid(s)) return false;
  {
    std::lock_guard lock(mutex_);
    ier_ = s.ier;
    lcr_ = s.lcr;
    mcr_ = s.mcr;
    fcr_ = s.fcr;
    scr_ = s.scr;
    dll_ = s.dll;
    dlm_ = s.dlm;
    msr_deltas_ = s.msr_deltas;
    overrun_ = s.overrun;
    thr_pending_ = s.thr_interrupt_pending;
    rx_.assign(s.rx_fifo.begin(), s.rx_fifo.end());
  }
  {
    // Forget what was delivered so the restored level is always sent.
    std::lock_guard deliver(irq_mutex_);
    delivered_level_.reset();
  }
  update_irq();
  return true;
}

}  // namespace wren
