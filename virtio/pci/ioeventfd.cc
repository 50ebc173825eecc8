#include "virtio/pci/ioeventfd.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "hypervisor/event_fd.h"
#include "hypervisor/event_loop.h"
#include "hypervisor/kvm.h"

namespace wren {

void VmIoeventfdApi::ioeventfd(int event_fd, uint64_t addr, uint32_t len, bool pio, bool deassign) {
  vm_.ioeventfd(event_fd, addr, len, pio, deassign);
}

// One watched eventfd. Lives until its last pending wait completes.
struct IoeventfdNotifyWiring::Watch : std::enable_shared_from_this<Watch> {
  Watch(boost::asio::io_context& io, std::function<void()> fn)
      : descriptor(io, ::dup(event.fd())), on_kick(std::move(fn)) {}

  void arm() {
    descriptor.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            if (ec || self->stopped) return;
                            self->event.consume();
                            self->on_kick();
                            self->arm();
                          });
  }

  EventFd event;
  boost::asio::posix::stream_descriptor descriptor;  // owns a dup of event's fd
  std::function<void()> on_kick;
  bool stopped = false;  // touched on the loop thread only
};

IoeventfdNotifyWiring::IoeventfdNotifyWiring(IoeventfdApi& api, EventLoop& loop) : api_(api), loop_(loop) {}

IoeventfdNotifyWiring::~IoeventfdNotifyWiring() {
  std::lock_guard lock(mutex_);
  for (auto& [key, watch] : watches_) {
    try {
      api_.ioeventfd(watch->event.fd(), std::get<0>(key), std::get<1>(key), std::get<2>(key), true);
    } catch (...) {
      // The VM may be gone already.
    }
    boost::asio::post(loop_.context(), [w = watch] {
      w->stopped = true;
      boost::system::error_code ignored;
      w->descriptor.close(ignored);
    });
  }
}

bool IoeventfdNotifyWiring::attach(uint64_t addr, uint32_t len, bool pio, std::function<void()> on_kick) {
  std::lock_guard lock(mutex_);
  const Key key{addr, len, pio};
  if (watches_.count(key)) return true;
  std::shared_ptr<Watch> watch;
  try {
    watch = std::make_shared<Watch>(loop_.context(), std::move(on_kick));
    api_.ioeventfd(watch->event.fd(), addr, len, pio, false);
  } catch (const std::exception& e) {
    spdlog::warn("ioeventfd at {:#x} unavailable ({}); kicks will exit to the VMM", addr, e.what());
    return false;
  }
  watches_[key] = watch;
  boost::asio::post(loop_.context(), [watch] { watch->arm(); });
  return true;
}

void IoeventfdNotifyWiring::detach(uint64_t addr, uint32_t len, bool pio) {
  std::lock_guard lock(mutex_);
  auto it = watches_.find({addr, len, pio});
  if (it == watches_.end()) return;
  auto watch = it->second;
  watches_.erase(it);
  try {
    api_.ioeventfd(watch->event.fd(), addr, len, pio, true);
  } catch (const std::exception& e) {
    spdlog::warn("ioeventfd deassign at {:#x}: {}", addr, e.what());
  }
  boost::asio::post(loop_.context(), [watch] {
    watch->stopped = true;
    boost::system::error_code ignored;
    watch->descriptor.close(ignored);
  });
}

void IoeventfdNotifyWiring::kick(std::function<void()> on_kick) {
  boost::asio::post(loop_.context(), std::move(on_kick));
}

}  // namespace wren
