#include "hypervisor/io_bus.h"

#include <algorithm>
#include <mutex>

namespace wren {

bool IoBus::insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> device) {
  uint64_t end = 0;
  if (len == 0 || !device || __builtin_add_overflow(base, len, &end)) return false;
  std::unique_lock lock(mutex_);
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < end) return false;
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.len > base) return false;
  }
  ranges_.emplace(base, Range{len, std::move(device)});
  return true;
}

bool IoBus::remove(uint64_t base) {
  std::unique_lock lock(mutex_);
  return ranges_.erase(base) > 0;
}

std::shared_ptr<BusDevice> IoBus::lookup(uint64_t addr, uint64_t len, uint64_t& offset) const {
  std::shared_lock lock(mutex_);
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  offset = addr - it->first;
  if (offset >= it->second.len || len > it->second.len - offset) return nullptr;
  return it->second.device;
}

bool IoBus::read(uint64_t addr, std::span<uint8_t> data) const {
  uint64_t offset = 0;
  auto dev = lookup(addr, data.size(), offset);
  if (!dev) {
    std::fill(data.begin(), data.end(), 0xff);
    return false;
  }
  dev->read(offset, data);
  return true;
}

bool IoBus::write(uint64_t addr, std::span<const uint8_t> data) const {
  uint64_t offset = 0;
  auto dev = lookup(addr, data.size(), offset);
  if (!dev) return false;
  dev->write(offset, data);
  return true;
}

}  // namespace wren
