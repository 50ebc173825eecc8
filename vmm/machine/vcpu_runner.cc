#include "vmm/machine/vcpu_runner.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <span>

#include "vmm/cpu/iret_completion.h"
#include "vmm/machine/exit_report.h"
#include "vmm/machine/exit_status.h"

namespace wren {

namespace {
constexpr int kKickSignal = SIGUSR1;
void on_kick(int) {}

constexpr size_t kIretCodeBytes = 4;  // prefixes and the opcode

class GuestMemoryReader final : public GuestPhysicalReader {
 public:
  explicit GuestMemoryReader(const GuestMemory& memory) : memory_(memory) {}
  bool read(uint64_t gpa, std::span<uint8_t> out) const override { return memory_.read(gpa, out); }

 private:
  const GuestMemory& memory_;
};

// One VM per process, so once per process is once per VM.
std::once_flag iret_logged, flat_frame_logged;
}  // namespace

void VcpuRunner::install_kick_signal() {
  struct sigaction sa {};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  sigaction(kKickSignal, &sa, nullptr);
}

VcpuRunner::VcpuRunner(Vcpu& vcpu, const IoBus& pio, const IoBus& mmio, const GuestMemory& memory,
                       OutcomeLatch& outcome)
    : vcpu_(vcpu), pio_(pio), mmio_(mmio), memory_(memory), outcome_(outcome) {}

VcpuRunner::~VcpuRunner() {
  stop();
  join();
}

void VcpuRunner::start() {
  thread_ = std::thread([this] { thread_main(); });
}

void VcpuRunner::kick() {
  // immediate_exit makes a KVM_RUN that is just starting return at once; the
  // signal interrupts one that is already running.
  vcpu_.run_data()->immediate_exit = 1;
  if (thread_.joinable()) pthread_kill(thread_.native_handle(), kKickSignal);
}

void VcpuRunner::stop() {
  stop_ = true;
  {
    std::lock_guard lock(pause_mutex_);
    pause_requested_ = false;
  }
  pause_cv_.notify_all();
  kick();
}

void VcpuRunner::join() {
  if (thread_.joinable()) thread_.join();
}

void VcpuRunner::pause() {
  std::unique_lock lock(pause_mutex_);
  pause_requested_ = true;
  while (!parked_ && !stop_ && thread_.joinable()) {
    kick();
    pause_cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
}

void VcpuRunner::resume() {
  {
    std::lock_guard lock(pause_mutex_);
    pause_requested_ = false;
  }
  pause_cv_.notify_all();
}

void VcpuRunner::park_if_paused() {
  std::unique_lock lock(pause_mutex_);
  if (!pause_requested_) return;
  parked_ = true;
  pause_cv_.notify_all();
  pause_cv_.wait(lock, [&] { return !pause_requested_ || stop_; });
  parked_ = false;
}

void VcpuRunner::thread_main() {
  // Block the kick signal everywhere except around KVM_RUN would be ideal; a
  // no-op handler is enough because every wait below re-checks its flags.
  while (!stop_) {
    park_if_paused();
    if (stop_) break;
    vcpu_.run_data()->immediate_exit = 0;
    int rc = 0;
    try {
      rc = vcpu_.run();
    } catch (const std::exception& e) {
      outcome_.report(
          {VmOutcome::Kind::Error, exit_status::kGuestFailure, describe_fatal_exit(vcpu_, memory_, e.what())});
      break;
    }
    if (rc < 0) continue;  // kicked: check stop/pause
    // A device may have ended the run during this exit (port 0x92, the test
    // exit): the guest must not execute past the write that did it.
    if (!handle_exit() || outcome_.decided()) break;
  }
}

void VcpuRunner::handle_io() {
  kvm_run* run = vcpu_.run_data();
  auto* base = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
  for (uint32_t i = 0; i < run->io.count; ++i) {
    std::span<uint8_t> data(base + i * run->io.size, run->io.size);
    if (run->io.direction == KVM_EXIT_IO_OUT)
      pio_.write(run->io.port, data);
    else
      pio_.read(run->io.port, data);
  }
}

void VcpuRunner::handle_mmio() {
  kvm_run* run = vcpu_.run_data();
  std::span<uint8_t> data(run->mmio.data, std::min<uint32_t>(run->mmio.len, sizeof run->mmio.data));
  if (run->mmio.is_write) {
    if (!mmio_.write(run->mmio.phys_addr, data))
      spdlog::debug("unhandled MMIO write at {:#x} len {}", run->mmio.phys_addr, data.size());
  } else if (!mmio_.read(run->mmio.phys_addr, data)) {
    spdlog::debug("unhandled MMIO read at {:#x} len {}", run->mmio.phys_addr, data.size());
  }
}

bool VcpuRunner::handle_exit() {
  kvm_run* run = vcpu_.run_data();
  switch (run->exit_reason) {
    case KVM_EXIT_IO: handle_io(); return true;
    case KVM_EXIT_MMIO: handle_mmio(); return true;
    case KVM_EXIT_HLT:
      // Only without an in-kernel irqchip; treat as a stopped CPU.
      outcome_.report({VmOutcome::Kind::PowerOff, 0, "guest halted"});
      return false;
    case KVM_EXIT_SYSTEM_EVENT:
      if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
        outcome_.report({VmOutcome::Kind::Reset, 0, "guest requested reset"});
      else
        outcome_.report({VmOutcome::Kind::PowerOff, 0, "guest powered off"});
      return false;
    case KVM_EXIT_SHUTDOWN:
      outcome_.report(
          {VmOutcome::Kind::Error, exit_status::kGuestFailure, describe_fatal_exit(vcpu_, memory_, "triple fault")});
      return false;
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string why = "KVM internal error";
      if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
        const IretCompletion iret = complete_backend_iret();
        if (iret.kind == IretCompletion::Kind::kCompleted) return true;
        if (iret.kind == IretCompletion::Kind::kRefused) why += " at an IRET the VMM does not complete: " + iret.reason;
      }
      outcome_.report({VmOutcome::Kind::Error, exit_status::kGuestFailure, describe_fatal_exit(vcpu_, memory_, why)});
      return false;
    }
    case KVM_EXIT_FAIL_ENTRY:
      outcome_.report(
          {VmOutcome::Kind::Error, exit_status::kGuestFailure, describe_fatal_exit(vcpu_, memory_, "VM entry failed")});
      return false;
    case KVM_EXIT_INTR: return true;
    default:
      outcome_.report(
          {VmOutcome::Kind::Error, exit_status::kGuestFailure, describe_fatal_exit(vcpu_, memory_, "unexpected exit")});
      return false;
  }
}

IretCompletion VcpuRunner::complete_backend_iret() {
  try {
    const kvm_regs regs = vcpu_.get_regs();
    const kvm_sregs sregs = vcpu_.get_sregs();
    const auto code = code_at_rip(vcpu_, memory_, regs, sregs, kIretCodeBytes);
    IretCompletion iret = complete_protected_mode_iret(regs, sregs, code, GuestMemoryReader(memory_));
    if (iret.kind != IretCompletion::Kind::kCompleted) return iret;
    vcpu_.set_sregs(iret.sregs);
    vcpu_.set_regs(iret.regs);
    // IRET ends NMI blocking (SDM vol. 3, 6.7.1).
    kvm_vcpu_events events{};
    if (vcpu_.ioctl(KVM_GET_VCPU_EVENTS, &events) == 0 && events.nmi.masked) {
      events.nmi.masked = 0;
      if (vcpu_.ioctl(KVM_SET_VCPU_EVENTS, &events) < 0)
        return {IretCompletion::Kind::kRefused, "KVM_SET_VCPU_EVENTS failed"};
    }
    std::call_once(iret_logged, [&] {
      spdlog::info(
          "vCPU {}: the KVM backend could not run a protected-mode IRET ({}-bit, at {:#x}:{:#x}); the VMM "
          "completes such IRETs itself (logged once)",
          vcpu_.index(), iret.operand_bytes * 8, sregs.cs.selector, regs.rip);
    });
    if (iret.frame_ignored_ss_base)
      std::call_once(flat_frame_logged, [&] {
        spdlog::info(
            "vCPU {}: the KVM backend pushed an interrupt frame as if SS (base {:#x}) were flat; the VMM's "
            "IRET popped it from there (logged once)",
            vcpu_.index(), sregs.ss.base);
      });
    return iret;
  } catch (const std::exception& e) {
    return {IretCompletion::Kind::kRefused, e.what()};
  }
}

}  // namespace wren
