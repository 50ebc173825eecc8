#pragma once
// An eventfd owned by RAII, used for ioeventfd/irqfd wiring.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "hypervisor/unique_fd.h"

namespace wren {

class EventFd {
 public:
  EventFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!fd_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  int fd() const { return fd_.get(); }
  void signal() const {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_.get(), &one, sizeof(one));
  }
  // Returns the counter (0 if nothing was pending).
  uint64_t consume() const {
    uint64_t v = 0;
    return ::read(fd_.get(), &v, sizeof(v)) == sizeof(v) ? v : 0;
  }

 private:
  UniqueFd fd_;
};

}  // namespace wren
