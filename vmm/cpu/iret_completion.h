#pragma once
// Completing a protected-mode IRET that the KVM backend could not emulate.
//
// KVM's instruction emulator implements IRET only in real mode (em_iret ->
// emulate_iret_real; every protected mode returns "unhandleable"). On a
// backend that runs guest ring-0 code in that emulator (the development
// machines' software KVM), a protected-mode interrupt handler's IRET -- for
// example iPXE's under SeaBIOS -- therefore ends KVM_RUN with an emulation
// failure. The common case is simple enough to finish in the VMM: a return
// to the same privilege level, no task switch, no paging. This file decides
// whether the instruction at RIP is such an IRET and computes the registers
// after it (Intel SDM vol. 2A, IRET/IRETD, PROTECTED-MODE-RETURN and
// RETURN-TO-SAME-PRIVILEGE-LEVEL). Anything else is refused with a reason,
// so the caller can keep its stop report. Pure: no KVM, no guest pointers.
//
// On the development machines the IRET mostly reaches the emulator for
// another reason: the backend pushed the interrupt's frame at ESP as if SS
// had base 0, so the IRET (which honours the SS base) finds no valid frame
// and ends in the emulator (measured: a valid frame at the flat address,
// register saves at the real one). When the architectural frame is invalid and a plausible
// one sits at that flat address, the IRET returns through it.
#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <string>

namespace wren {

// Reads guest-physical memory; false if any byte is outside guest RAM.
class GuestPhysicalReader {
 public:
  virtual ~GuestPhysicalReader() = default;
  [[nodiscard]] virtual bool read(uint64_t gpa, std::span<uint8_t> out) const = 0;
};

struct IretCompletion {
  enum class Kind {
    kNotIret,    // the bytes at RIP are not an IRET: nothing to do here
    kRefused,    // an IRET this code does not complete; `reason` says why
    kCompleted,  // `regs`/`sregs` hold the state after the IRET
  };
  Kind kind = Kind::kNotIret;
  std::string reason;
  kvm_regs regs{};
  kvm_sregs sregs{};
  unsigned operand_bytes = 0;  // 2 or 4 when completed
  // The frame was popped from ESP as if SS had base 0, where this backend
  // pushes interrupt frames (see the .cc); the architectural one was not valid.
  bool frame_ignored_ss_base = false;
};

// Refused IRETs keep the reason the architectural frame (at SS.base + ESP)
// was refused for.
//
// `code` holds the bytes at CS:RIP (at least the prefix and opcode; fewer
// bytes than that count as "not an IRET"). The stack and the GDT are read
// through `memory` (linear = physical, since paging-on is refused).
IretCompletion complete_protected_mode_iret(const kvm_regs& regs, const kvm_sregs& sregs, std::span<const uint8_t> code,
                                            const GuestPhysicalReader& memory);

}  // namespace wren
