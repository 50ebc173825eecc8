#pragma once
// How a VM run ends; the first reported outcome wins.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace wren {

struct VmOutcome {
  enum class Kind { PowerOff, Reset, TestExit, Quit, Error } kind;
  int exit_status = 0;
  std::string message;
};

class OutcomeLatch {
 public:
  // Records the outcome if none was recorded yet; returns true if this one won.
  bool report(VmOutcome outcome) {
    {
      std::lock_guard lock(mutex_);
      if (outcome_) return false;
      outcome_ = std::move(outcome);
      decided_ = true;
    }
    cv_.notify_all();
    return true;
  }
  // Lock-free: a vCPU checks it after every exit, so that the vCPU whose
  // write ended the run (a reset port, the test exit) runs no further.
  bool decided() const { return decided_.load(std::memory_order_acquire); }
  VmOutcome wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return outcome_.has_value(); });
    return *outcome_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<VmOutcome> outcome_;
  std::atomic<bool> decided_{false};
};

}  // namespace wren
