#include "devices/platform/pc_testdev.h"

#include <algorithm>

#include "hypervisor/little_endian.h"

namespace wren {

void PcTestdev::read(uint64_t offset, std::span<uint8_t> data) {
  if (is_flush_page(offset)) {
    std::fill(data.begin(), data.end(), 0);
    return;
  }
  const uint32_t value = data_.load();
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(value >> (8 * lane(offset + i)));
}

void PcTestdev::write(uint64_t offset, std::span<const uint8_t> data) {
  if (is_flush_page(offset)) {
    // Only a whole 32-bit address counts, as in QEMU.
    if (offset == kFlushPage && data.size() == 4 && flush_page_) flush_page_(load_le(data));
    return;
  }
  uint32_t mask = 0, bits = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const unsigned shift = 8 * lane(offset + i);
    mask |= 0xffu << shift;
    bits = (bits & ~(0xffu << shift)) | (uint32_t{data[i]} << shift);
  }
  // Lanes outside the access keep their value, even with two vCPUs writing
  // different lanes at once.
  uint32_t old = data_.load();
  while (!data_.compare_exchange_weak(old, (old & ~mask) | bits)) {
  }
}

}  // namespace wren
