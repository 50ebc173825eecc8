#include "hypervisor/mapping.h"

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace wren {

Mapping Mapping::anonymous(size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  return Mapping(p, size);
}

Mapping Mapping::guest_ram(size_t size) {
  if (size > SIZE_MAX - kHugePageSize) throw std::system_error(ENOMEM, std::generic_category(), "mmap guest memory");
  // Over-allocate by one huge page, then give back the unaligned head and tail.
  const size_t padded = size + kHugePageSize;
  void* p = ::mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap guest memory");
  const auto start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (start + kHugePageSize - 1) & ~uintptr_t{kHugePageSize - 1};
  if (aligned > start) ::munmap(p, aligned - start);
  if (const uintptr_t tail = start + padded - (aligned + size); tail > 0)
    ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  // Advice only: a host without transparent huge pages still runs the guest.
  (void)::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return Mapping(reinterpret_cast<void*>(aligned), size);
}

Mapping Mapping::of_fd(int fd, size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap fd");
  return Mapping(p, size);
}

}  // namespace wren
