#pragma once
// Places BARs inside a window (the 32-bit PCI MMIO hole or the PCI I/O port
// range), each naturally aligned to its size, the way firmware would.
#include <cstdint>
#include <optional>

namespace wren::pci {

class BarAllocator {
 public:
  // Window [start, end).
  BarAllocator(uint64_t start, uint64_t end) : start_(start), end_(end), next_(start) {}

  // A size-aligned base for a power-of-two `size`, or nullopt if the window
  // is exhausted.
  [[nodiscard]] std::optional<uint64_t> allocate(uint64_t size);

  uint64_t start() const { return start_; }
  uint64_t end() const { return end_; }

 private:
  uint64_t start_;
  uint64_t end_;
  uint64_t next_;
};

}  // namespace wren::pci
