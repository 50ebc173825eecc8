#include "devices/pci/bar_allocator.h"

namespace wren::pci {

std::optional<uint64_t> BarAllocator::allocate(uint64_t size) {
  if (size == 0 || (size & (size - 1))) return std::nullopt;
  uint64_t base = 0;
  if (__builtin_add_overflow(next_, size - 1, &base)) return std::nullopt;
  base &= ~(size - 1);
  uint64_t end = 0;
  if (__builtin_add_overflow(base, size, &end) || end > end_) return std::nullopt;
  next_ = end;
  return base;
}

}  // namespace wren::pci
