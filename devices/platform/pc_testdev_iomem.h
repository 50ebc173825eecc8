#pragma once
// The memory part of QEMU's pc-testdev: 64 KiB of MMIO at 0xff000000 that
// reads back what was written, at any width and alignment, little-endian.
// Guest test suites use it to exercise MMIO emulation (instructions whose
// memory operand traps to the VMM) against a known value. It starts zeroed
// and is test scaffolding: not migrated. Threading: any vCPU thread.
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "hypervisor/io_bus.h"

namespace wren {

class PcTestdevIomem final : public BusDevice {
 public:
  static constexpr uint64_t kBase = 0xff000000;
  static constexpr uint64_t kLength = 0x10000;

  PcTestdevIomem() : bytes_(std::make_unique<uint8_t[]>(kLength)) {}

  // The bus hands over only accesses that lie wholly inside the window.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  std::mutex mutex_;
  const std::unique_ptr<uint8_t[]> bytes_;  // value-initialized: zeros
};

}  // namespace wren
