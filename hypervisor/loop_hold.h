#pragma once
// Parks the device thread (EventLoop) for as long as a LoopHold lives. Live
// migration's stop-and-copy needs the devices frozen as well as the vCPUs:
// while the loop is parked no TAP frame lands in guest memory and no device
// state changes, so the last dirty pages and the device payloads agree.
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "hypervisor/event_loop.h"

namespace wren {

class LoopHold {
 public:
  // Blocks until the loop thread is parked. Never call it on the loop thread.
  explicit LoopHold(EventLoop& loop) : gate_(std::make_shared<Gate>()) {
    if (loop.in_loop_thread()) throw std::logic_error("LoopHold taken on the loop thread");
    boost::asio::post(loop.context(), [gate = gate_] {
      std::unique_lock lock(gate->mutex);
      gate->parked = true;
      gate->changed.notify_all();
      gate->changed.wait(lock, [&] { return gate->released; });
    });
    std::unique_lock lock(gate_->mutex);
    gate_->changed.wait(lock, [&] { return gate_->parked; });
  }
  ~LoopHold() {
    std::lock_guard lock(gate_->mutex);
    gate_->released = true;
    gate_->changed.notify_all();
  }
  LoopHold(const LoopHold&) = delete;
  LoopHold& operator=(const LoopHold&) = delete;

 private:
  struct Gate {
    std::mutex mutex;
    std::condition_variable changed;
    bool parked = false;
    bool released = false;
  };
  std::shared_ptr<Gate> gate_;
};

}  // namespace wren
