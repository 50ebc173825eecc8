#pragma once
// Address-range dispatch for port I/O and MMIO exits. Devices implement
// BusDevice and see offsets relative to the base they were inserted at.
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>

namespace wren {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  // `data.size()` is the access width (1, 2, 4 or 8; MMIO may be larger).
  // Reads of unimplemented registers should fill `data` with a defined value.
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class IoBus {
 public:
  // Fails (returns false) if [base, base+len) overlaps an existing range or is empty.
  [[nodiscard]] bool insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> device);
  // Removes the range starting exactly at base; false if none.
  bool remove(uint64_t base);

  // Dispatch; return false if no device covers the whole access (reads then
  // fill `data` with 0xff, as an open bus does).
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

 private:
  struct Range {
    uint64_t len;
    std::shared_ptr<BusDevice> device;
  };
  // Returns the device and offset for [addr, addr+len) or nullptr.
  std::shared_ptr<BusDevice> lookup(uint64_t addr, uint64_t len, uint64_t& offset) const;

  mutable std::shared_mutex mutex_;
  std::map<uint64_t, Range> ranges_;  // keyed by base
};

}  // namespace wren
