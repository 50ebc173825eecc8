#pragma once
// How queue kicks reach the device thread. The virtio-pci transport owns
// the notify registers; the machine decides whether a kick costs a VMM exit
// on the vCPU thread or goes straight to the event loop through a KVM
// ioeventfd (see transport_ioeventfd.h). Tests use InlineNotifyWiring.
#include <cstdint>
#include <functional>

namespace wren {

class NotifyWiring {
 public:
  virtual ~NotifyWiring() = default;
  // Ask that guest writes of `len` bytes to `addr` (port I/O if `pio`) run
  // `on_kick` on the device thread without the transport seeing them.
  // Returns false if that is not possible; the transport then decodes the
  // write itself and calls kick(). Re-attached whenever the BAR moves.
  virtual bool attach(uint64_t addr, uint32_t len, bool pio, std::function<void()> on_kick) = 0;
  virtual void detach(uint64_t addr, uint32_t len, bool pio) = 0;
  // A kick the transport decoded itself (no ioeventfd, other width, legacy
  // notify register): run `on_kick` on the device thread.
  virtual void kick(std::function<void()> on_kick) = 0;
};

// No ioeventfds; kicks run synchronously on the calling (vCPU) thread.
class InlineNotifyWiring : public NotifyWiring {
 public:
  bool attach(uint64_t, uint32_t, bool, std::function<void()>) override { return false; }
  void detach(uint64_t, uint32_t, bool) override {}
  void kick(std::function<void()> on_kick) override { on_kick(); }
};

}  // namespace wren
