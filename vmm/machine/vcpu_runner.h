#pragma once
// One thread per vCPU: KVM_RUN, dispatch port I/O and MMIO exits to the
// buses, and report how the guest ended. Supports pausing all vCPUs (for
// snapshots and the control socket) by kicking them out of KVM_RUN.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "hypervisor/guest_memory.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/kvm.h"
#include "vmm/cpu/iret_completion.h"
#include "vmm/machine/vm_outcome.h"

namespace wren {

class VcpuRunner {
 public:
  VcpuRunner(Vcpu& vcpu, const IoBus& pio, const IoBus& mmio, const GuestMemory& memory, OutcomeLatch& outcome);
  ~VcpuRunner();
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  void start();
  // Asks the thread to leave KVM_RUN and exit; join() waits for it.
  void stop();
  void join();

  // Pause/resume: pause() returns once the vCPU is parked outside KVM_RUN.
  void pause();
  void resume();

  // Installs the (empty) signal handler used to kick vCPUs; call once.
  static void install_kick_signal();

 private:
  void thread_main();
  // Returns false when the vCPU must stop.
  bool handle_exit();
  void handle_io();
  void handle_mmio();
  // After an emulation failure: finishes a protected-mode IRET the backend
  // could not emulate (vmm/cpu/iret_completion.h) and sets the registers.
  IretCompletion complete_backend_iret();
  void kick();
  void park_if_paused();

  Vcpu& vcpu_;
  const IoBus& pio_;
  const IoBus& mmio_;
  const GuestMemory& memory_;
  OutcomeLatch& outcome_;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::mutex pause_mutex_;
  std::condition_variable pause_cv_;
  bool pause_requested_ = false;
  bool parked_ = false;
};

}  // namespace wren
