#pragma once
// A NetBackend made of SOCK_SEQPACKET socketpairs: each read/write on the
// device side is one frame, exactly like a TAP queue fd. The test keeps the
// other ends (and a view of every knob the device turned) in `Shared`.
#include <sys/socket.h>

#include <deque>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include "hypervisor/unique_fd.h"
#include "virtio/net/net_backend.h"
#include "virtio/net/net_features.h"

namespace wren::test {

class SocketPairBackend : public NetBackend {
 public:
  struct Shared {
    std::vector<UniqueFd> host_fds;  // the "network" side of each queue
    std::vector<int> device_fds;     // the device's ends (not owned), for socket options
    int header_size = 0;
    uint64_t offloads = 0;
    std::vector<HostFilter> filters;                       // every filter applied (successfully or not)
    std::deque<bool> filter_results;                       // scripted apply() outcomes; empty = succeed
    std::vector<uint64_t> offload_calls;                   // every set_offloads() (successfully or not)
    std::deque<bool> offload_results;                      // scripted set_offloads() outcomes; empty = succeed
    std::vector<std::pair<uint16_t, bool>> queue_enables;  // every set_queue_enabled()
    std::deque<bool> queue_results;                        // scripted outcomes; empty = succeed
    bool refuse_header_size = false;
    bool throw_on_filter = false;  // apply() throws, as a failed allocation would
  };

  explicit SocketPairBackend(uint16_t queues, uint64_t supported = kGuestOffloadFeatures)
      : shared_(std::make_shared<Shared>()), supported_(supported) {
    for (uint16_t i = 0; i < queues; ++i) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        throw std::runtime_error("socketpair");
      device_fds_.emplace_back(sv[0]);
      shared_->device_fds.push_back(sv[0]);
      shared_->host_fds.emplace_back(sv[1]);
    }
  }
  std::shared_ptr<Shared> shared() const { return shared_; }

  std::string name() const override { return "fake-tap"; }
  uint16_t queue_count() const override { return static_cast<uint16_t>(device_fds_.size()); }
  int queue_fd(uint16_t index) const override { return device_fds_.at(index).get(); }
  bool set_vnet_header_size(int bytes) override {
    if (shared_->refuse_header_size) return false;
    shared_->header_size = bytes;
    return true;
  }
  bool set_offloads(uint64_t offloads) override {
    shared_->offload_calls.push_back(offloads);
    if (!next_result(shared_->offload_results)) return false;
    shared_->offloads = offloads;
    return true;
  }
  uint64_t supported_guest_offloads() const override { return supported_; }
  bool set_queue_enabled(uint16_t index, bool enabled) override {
    shared_->queue_enables.emplace_back(index, enabled);
    return next_result(shared_->queue_results);
  }
  bool apply(const HostFilter& filter) override {
    if (shared_->throw_on_filter) throw std::bad_alloc();
    shared_->filters.push_back(filter);
    return next_result(shared_->filter_results);
  }

 private:
  static bool next_result(std::deque<bool>& script) {
    if (script.empty()) return true;
    const bool ok = script.front();
    script.pop_front();
    return ok;
  }

  std::shared_ptr<Shared> shared_;
  std::vector<UniqueFd> device_fds_;
  uint64_t supported_;
};

}  // namespace wren::test
