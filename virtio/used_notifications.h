#pragma once
// Which queues got used entries during one turn of device work, so that the
// interrupt decision (EVENT_IDX aware) is taken once per queue per turn.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "virtio/queue.h"

namespace wren {

class UsedNotifications {
 public:
  void resize(size_t queues) { touched_.assign(queues, false); }
  void clear() { std::fill(touched_.begin(), touched_.end(), false); }
  void mark(uint16_t index) { touched_.at(index) = true; }

  // Calls signal(index) for each touched queue whose driver wants an
  // interrupt now, and forgets them all.
  template <typename Signal>
  void flush(std::span<Queue> queues, const GuestMemory* memory, Signal&& signal) {
    for (uint16_t i = 0; i < touched_.size(); ++i) {
      if (!touched_[i]) continue;
      touched_[i] = false;
      if (memory && i < queues.size() && queues[i].needs_notification(*memory)) signal(i);
    }
  }

 private:
  std::vector<bool> touched_;
};

}  // namespace wren
