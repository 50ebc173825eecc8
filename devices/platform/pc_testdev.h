#pragma once
// The port I/O part of QEMU's pc-testdev, which guest test suites (such as
// kvm-unit-tests) use to exercise port I/O of every width, string I/O
// included, and page refaults:
//   0xe0-0xe3  a 32-bit data register that reads back what was written, by
//              byte lane (a byte written to 0xe2 sets bits 16..23);
//   0xe4-0xe7  flush-page: a 32-bit write of a guest-physical address makes
//              KVM drop its mapping of that page; reads return 0;
//   0xe8-0xeb  the data register again (QEMU splits these accesses into
//              single bytes, which gives the same values).
//
// Its IRQ-line ports and memory window are PcTestdevIrqLines
// (pc_testdev_irq.h) and PcTestdevIomem (pc_testdev_iomem.h); the machine
// inserts all three for --pc-testdev.
//
// The register is test scaffolding and is not migrated. Threading: any vCPU
// thread; the register is atomic and flush_page must be thread-safe.
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>

#include "hypervisor/io_bus.h"

namespace wren {

class PcTestdev final : public BusDevice {
 public:
  static constexpr uint16_t kBase = 0xe0;
  static constexpr unsigned kLength = 12;
  using FlushPage = std::function<void(uint64_t gpa)>;

  explicit PcTestdev(FlushPage flush_page) : flush_page_(std::move(flush_page)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  static constexpr uint64_t kFlushPage = 4;
  static bool is_flush_page(uint64_t offset) { return offset / 4 == kFlushPage / 4; }
  static unsigned lane(uint64_t offset) { return static_cast<unsigned>(offset % 4); }

  const FlushPage flush_page_;
  std::atomic<uint32_t> data_{0};
};

}  // namespace wren
