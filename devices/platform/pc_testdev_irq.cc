#include "devices/platform/pc_testdev_irq.h"

#include <algorithm>

namespace wren {

void PcTestdevIrqLines::read(uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0); }

void PcTestdevIrqLines::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1 || offset >= kLength) return;
  if (IrqLine* line = lines_[offset]) line->set_level(data[0] != 0);
}

}  // namespace wren
