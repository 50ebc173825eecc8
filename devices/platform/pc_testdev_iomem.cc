#include "devices/platform/pc_testdev_iomem.h"

#include <algorithm>
#include <cstring>

namespace wren {

void PcTestdevIomem::read(uint64_t offset, std::span<uint8_t> data) {
  if (offset > kLength || data.size() > kLength - offset) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  std::lock_guard lock(mutex_);
  std::memcpy(data.data(), bytes_.get() + offset, data.size());
}

void PcTestdevIomem::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset > kLength || data.size() > kLength - offset) return;
  std::lock_guard lock(mutex_);
  std::memcpy(bytes_.get() + offset, data.data(), data.size());
}

}  // namespace wren
