#pragma once
// Which guest pages changed, for live migration's pre-copy: KVM's dirty log
// (writes by the guest) merged with GuestMemory's bitmap (writes by Wren's
// devices). Memory slot i is GuestMemory region i, as Machine registers them.
#include <cstdint>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/kvm.h"

namespace wren {

class DirtyTracker {
 public:
  // `manual_protect`: Vm::enable_manual_dirty_log_protect() succeeded.
  DirtyTracker(Vm& vm, GuestMemory& memory, bool manual_protect);
  ~DirtyTracker();
  DirtyTracker(const DirtyTracker&) = delete;
  DirtyTracker& operator=(const DirtyTracker&) = delete;

  // Turns KVM logging on for every slot and forgets anything recorded so far.
  void start();
  void stop();
  // Guest addresses of the pages written since start() or the last take().
  // Device writes must be quiescent while this runs (the caller parks the
  // device thread): a device marks a page before it writes it.
  std::vector<uint64_t> take();

 private:
  void set_logging(bool on);

  Vm& vm_;
  GuestMemory& memory_;
  bool manual_protect_;
  bool running_ = false;
};

}  // namespace wren
