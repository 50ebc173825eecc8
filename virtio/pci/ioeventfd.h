#pragma once
// NotifyWiring for a real VM: each notify address gets a KVM ioeventfd whose
// eventfd is watched by the event loop, so a kick is handled on the device
// thread and the vCPU does not exit to the VMM at all. Decoded kicks
// (kick()) are posted to the event loop too.
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "virtio/pci/notify.h"

namespace wren {

class Vm;
class EventLoop;

// The KVM call, faked in tests.
class IoeventfdApi {
 public:
  virtual ~IoeventfdApi() = default;
  virtual void ioeventfd(int event_fd, uint64_t addr, uint32_t len, bool pio, bool deassign) = 0;
};

class VmIoeventfdApi : public IoeventfdApi {
 public:
  explicit VmIoeventfdApi(Vm& vm) : vm_(vm) {}
  void ioeventfd(int event_fd, uint64_t addr, uint32_t len, bool pio, bool deassign) override;

 private:
  Vm& vm_;
};

class IoeventfdNotifyWiring : public NotifyWiring {
 public:
  // `api` and `loop` must outlive this object.
  IoeventfdNotifyWiring(IoeventfdApi& api, EventLoop& loop);
  ~IoeventfdNotifyWiring() override;

  bool attach(uint64_t addr, uint32_t len, bool pio, std::function<void()> on_kick) override;
  void detach(uint64_t addr, uint32_t len, bool pio) override;
  void kick(std::function<void()> on_kick) override;

 private:
  struct Watch;
  using Key = std::tuple<uint64_t, uint32_t, bool>;

  IoeventfdApi& api_;
  EventLoop& loop_;
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<Watch>> watches_;
};

}  // namespace wren
