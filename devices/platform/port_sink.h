#pragma once
// Swallows writes and reads all ones, for legacy ports Linux touches that
// Wren does not emulate (e.g. 0x80 POST codes), so they do not show up as
// unhandled-port noise. Never use it for ports KVM handles in the kernel
// (PIC, PIT, speaker port 0x61): those never reach user space anyway.
// Counts accesses for diagnostics; stateless as far as the guest can tell.
#include <atomic>
#include <cstdint>
#include <span>

#include "hypervisor/io_bus.h"

namespace wren {

class PortSink final : public BusDevice {
 public:
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  uint64_t reads() const { return reads_.load(std::memory_order_relaxed); }
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> reads_{0};
  std::atomic<uint64_t> writes_{0};
};

}  // namespace wren
