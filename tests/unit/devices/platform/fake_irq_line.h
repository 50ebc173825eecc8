#pragma once
// An IrqLine that records every level it is given.
#include <mutex>
#include <vector>

#include "hypervisor/irq.h"

namespace wren::testing {

class FakeIrqLine final : public IrqLine {
 public:
  void set_level(bool high) override {
    std::lock_guard lock(mutex_);
    levels_.push_back(high);
  }
  std::vector<bool> levels() const {
    std::lock_guard lock(mutex_);
    return levels_;
  }
  bool level() const {
    std::lock_guard lock(mutex_);
    return !levels_.empty() && levels_.back();
  }
  void clear() {
    std::lock_guard lock(mutex_);
    levels_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<bool> levels_;
};

}  // namespace wren::testing
