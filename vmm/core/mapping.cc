#include "vmm/core/mapping.h"

#include <cerrno>
#include <system_error>

namespace wren {

Mapping Mapping::anonymous(size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap guest memory");
  return Mapping(p, size);
}

Mapping Mapping::of_fd(int fd, size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap fd");
  return Mapping(p, size);
}

}  // namespace wren
