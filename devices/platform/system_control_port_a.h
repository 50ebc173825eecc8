#pragma once
// System Control Port A (port 0x92, the "fast A20 and reset" port of PC/AT
// compatibles). Bit 0 rising from 0 to 1 resets the machine, the way guests
// and test suites do a fast reset (it ends the run like the i8042's 0xfe
// command); bit 1 is the A20 gate. The byte written reads back; it starts
// at 0x02 because the A20 line of a KVM guest is always enabled (clearing
// bit 1 does not mask address bit 20). Not migrated: the only bit that
// matters across a migration, bit 1, has no effect.
//
// Threading: any vCPU thread; on_reset runs on that thread and should only
// ask the machine to stop.
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>

#include "hypervisor/io_bus.h"

namespace wren {

class SystemControlPortA final : public BusDevice {
 public:
  static constexpr uint16_t kPort = 0x92;
  static constexpr uint8_t kFastReset = 1u << 0;
  static constexpr uint8_t kA20 = 1u << 1;
  using ResetCallback = std::function<void()>;

  explicit SystemControlPortA(ResetCallback on_reset) : on_reset_(std::move(on_reset)) {}

  // One byte wide (the machine inserts it with length 1).
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  uint64_t reset_requests() const { return reset_requests_.load(); }

 private:
  const ResetCallback on_reset_;
  std::atomic<uint8_t> value_{kA20};
  std::atomic<uint64_t> reset_requests_{0};
};

}  // namespace wren
