#include "vmm/cpu/iret_completion.h"

#include <array>

#include "hypervisor/little_endian.h"
#include "vmm/boot/hex.h"
#include "vmm/cpu/segment_descriptor.h"

namespace wren {

namespace {

constexpr uint8_t kIretOpcode = 0xcf;
constexpr uint8_t kOperandSizePrefix = 0x66;
constexpr uint8_t kRexMask = 0xf0, kRexBase = 0x40;  // REX prefixes exist only in 64-bit code

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kEferLma = 1ull << 10;

// EFLAGS bits (SDM vol. 1, 3.4.3).
constexpr uint64_t kCf = 1ull << 0, kFixed = 1ull << 1, kPf = 1ull << 2, kAf = 1ull << 4, kZf = 1ull << 6,
                   kSf = 1ull << 7, kTf = 1ull << 8, kIf = 1ull << 9, kDf = 1ull << 10, kOf = 1ull << 11,
                   kIopl = 3ull << 12, kNt = 1ull << 14, kRf = 1ull << 16, kVm = 1ull << 17, kAc = 1ull << 18,
                   kVif = 1ull << 19, kVip = 1ull << 20, kId = 1ull << 21;
constexpr unsigned kIoplShift = 12;

// Segment type bits (S = 1 descriptors).
constexpr uint8_t kTypeCode = 0x8, kTypeExpandDown = 0x4, kTypeWritable = 0x2, kTypeAccessed = 0x1;
constexpr uint16_t kSelectorRpl = 0x3, kSelectorTi = 0x4, kSelectorIndex = 0xfff8;
constexpr uint64_t kLinearMask = 0xffffffff;  // no paging, not long mode: 32-bit linear addresses

IretCompletion refused(std::string reason) {
  IretCompletion r;
  r.kind = IretCompletion::Kind::kRefused;
  r.reason = std::move(reason);
  return r;
}

// The EFLAGS after a same-privilege IRET: which bits the popped image may
// change depends on the operand size, CPL and IOPL (SDM, IRET pseudocode).
uint64_t merge_eflags(uint64_t current, uint64_t popped, unsigned operand_bytes, unsigned cpl) {
  uint64_t writable = kCf | kPf | kAf | kZf | kSf | kTf | kDf | kOf | kNt;
  if (operand_bytes == 4) writable |= kRf | kAc | kId;
  const unsigned iopl = static_cast<unsigned>((current & kIopl) >> kIoplShift);
  if (cpl <= iopl) writable |= kIf;
  if (cpl == 0) {
    writable |= kIopl;
    if (operand_bytes == 4) writable |= kVif | kVip;
  }
  return (current & ~writable) | (popped & writable) | kFixed;
}

// What the IRET pops, and the machine it pops it on.
struct Frame {
  const kvm_regs& regs;
  const kvm_sregs& sregs;
  unsigned cpl;
  unsigned operand_bytes;
  uint64_t offset;  // of the frame in SS
};

// Checks the popped EIP/CS/EFLAGS at `bytes` and computes the state after
// a same-privilege return (SDM: PROTECTED-MODE-RETURN,
// RETURN-TO-SAME-PRIVILEGE-LEVEL).
IretCompletion return_through(const Frame& f, std::span<const uint8_t> bytes, const GuestPhysicalReader& memory) {
  auto pop = [&](unsigned i) { return load_le(bytes.subspan(i * f.operand_bytes, f.operand_bytes)); };
  const uint64_t new_eip = pop(0);
  const auto new_cs = static_cast<uint16_t>(pop(1));
  const uint64_t popped_eflags = pop(2);

  if (f.operand_bytes == 4 && (popped_eflags & kVm) && f.cpl == 0) return refused("a return to virtual-8086 mode");
  if ((new_cs & ~kSelectorRpl) == 0) return refused("the return CS selector is null");
  if (new_cs & kSelectorTi) return refused("the return CS selector " + hex(new_cs) + " points into the LDT");
  const unsigned rpl = new_cs & kSelectorRpl;
  if (rpl != f.cpl)
    return refused("a privilege change (CPL " + std::to_string(f.cpl) + " to RPL " + std::to_string(rpl) + ")");
  const uint64_t index_offset = new_cs & kSelectorIndex;
  if (index_offset + 7 > f.sregs.gdt.limit)
    return refused("the return CS selector " + hex(new_cs) + " is beyond the GDT limit " + hex(f.sregs.gdt.limit));
  std::array<uint8_t, 8> raw{};
  const uint64_t descriptor_at = (f.sregs.gdt.base + index_offset) & kLinearMask;
  if (!memory.read(descriptor_at, raw))
    return refused("the GDT entry at " + hex(descriptor_at) + " is outside guest RAM");
  kvm_segment cs = segment_from_descriptor(load_le(std::span<const uint8_t>(raw)), new_cs);
  if (!cs.s || !(cs.type & kTypeCode)) return refused("selector " + hex(new_cs) + " is not a code segment");
  if (cs.dpl != rpl) return refused("selector " + hex(new_cs) + " has DPL " + std::to_string(cs.dpl) + ", not RPL");
  if (!cs.present) return refused("selector " + hex(new_cs) + " is not present");
  const uint64_t eip = f.operand_bytes == 2 ? (new_eip & 0xffff) : new_eip;
  if (eip > cs.limit) return refused("EIP " + hex(eip) + " is beyond the code segment limit " + hex(cs.limit));
  cs.l = 0;                  // L is ignored outside IA-32e mode
  cs.type |= kTypeAccessed;  // the CPU marks a descriptor it loads as accessed

  IretCompletion done;
  done.kind = IretCompletion::Kind::kCompleted;
  done.operand_bytes = f.operand_bytes;
  done.regs = f.regs;
  done.regs.rip = eip;
  done.regs.rflags = merge_eflags(f.regs.rflags, popped_eflags, f.operand_bytes, f.cpl);
  const uint64_t sp_mask = f.sregs.ss.db ? 0xffffffff : 0xffff;
  done.regs.rsp = (f.regs.rsp & ~sp_mask) | ((f.offset + 3 * f.operand_bytes) & sp_mask);
  done.sregs = f.sregs;
  done.sregs.cs = cs;
  return done;
}

// An EFLAGS image an interrupt could have pushed: bit 1 set, the reserved
// bits (3, 5, 15, 22 and up) clear.
bool plausible_eflags_image(uint64_t eflags, unsigned operand_bytes) {
  constexpr uint64_t kReservedZero = (1ull << 3) | (1ull << 5) | (1ull << 15) | (0x3ffull << 22);
  const uint64_t reserved = operand_bytes == 4 ? kReservedZero : kReservedZero & 0xffff;
  return (eflags & kFixed) && !(eflags & reserved);
}

}  // namespace

IretCompletion complete_protected_mode_iret(const kvm_regs& regs, const kvm_sregs& sregs, std::span<const uint8_t> code,
                                            const GuestPhysicalReader& memory) {
  // Decode: IRET with an optional operand-size prefix (or, in 64-bit code,
  // a REX prefix: IRETQ). 0x40-0x4f outside 64-bit code is INC/DEC.
  const bool long_mode = sregs.efer & kEferLma;
  size_t at = 0;
  bool operand_size_prefix = false;
  while (at < code.size() && code[at] == kOperandSizePrefix) operand_size_prefix = true, ++at;
  if (long_mode && sregs.cs.l && at < code.size() && (code[at] & kRexMask) == kRexBase) ++at;
  if (at >= code.size() || code[at] != kIretOpcode) return {};

  if (!(sregs.cr0 & kCr0Pe)) return refused("real mode (the backend's own IRET emulation covers it)");
  if (long_mode) return refused("long mode");
  if (regs.rflags & kVm) return refused("virtual-8086 mode");
  if (sregs.cr0 & kCr0Pg) return refused("paging is on");
  if (regs.rflags & kNt) return refused("EFLAGS.NT is set (a return from a nested task)");

  const unsigned cpl = sregs.cs.selector & kSelectorRpl;
  if (sregs.ss.dpl != cpl) return refused("SS.DPL differs from CPL " + std::to_string(cpl));
  const unsigned operand_bytes = (sregs.cs.db != operand_size_prefix) ? 4 : 2;

  // The frame: EIP, CS, EFLAGS, each operand_bytes wide, at SS:ESP (SS:SP
  // for a 16-bit stack).
  const kvm_segment& ss = sregs.ss;
  if (ss.unusable || !ss.present || !ss.s || (ss.type & (kTypeCode | kTypeWritable)) != kTypeWritable)
    return refused("SS is not a present, writable data segment");
  if (ss.type & kTypeExpandDown) return refused("SS is an expand-down segment");
  const uint64_t offset = ss.db ? (regs.rsp & 0xffffffff) : (regs.rsp & 0xffff);
  const uint64_t frame_bytes = 3 * operand_bytes;
  if (offset + frame_bytes - 1 > ss.limit || (!ss.db && offset + frame_bytes > 0x10000))
    return refused("the " + std::to_string(frame_bytes) + "-byte frame at SS:" + hex(offset) +
                   " runs past the stack segment's limit " + hex(ss.limit));
  const Frame frame{regs, sregs, cpl, operand_bytes, offset};
  std::array<uint8_t, 12> bytes{};
  const auto popped = std::span(bytes).first(frame_bytes);
  const uint64_t frame_at = (ss.base + offset) & kLinearMask;
  IretCompletion result = memory.read(frame_at, popped)
                              ? return_through(frame, popped, memory)
                              : refused("the stack frame at " + hex(frame_at) + " is outside guest RAM");
  if (result.kind == IretCompletion::Kind::kCompleted || ss.base == 0) return result;

  // The development machines' KVM backend delivers an interrupt in 32-bit
  // protected mode by pushing its frame at ESP as if SS were flat (base 0),
  // while the handler's own pushes and the IRET use the real SS base; the
  // IRET finds no valid frame and ends in the emulator. If the
  // architectural frame is not one and a plausible frame sits at the flat
  // address, that is the frame the interrupt pushed.
  const uint64_t flat_at = offset & kLinearMask;
  if (!memory.read(flat_at, popped) || !plausible_eflags_image(load_le(popped.last(operand_bytes)), operand_bytes))
    return result;
  IretCompletion flat = return_through(frame, popped, memory);
  if (flat.kind != IretCompletion::Kind::kCompleted) return result;
  flat.frame_ignored_ss_base = true;
  return flat;
}

}  // namespace wren
