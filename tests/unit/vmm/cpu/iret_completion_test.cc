// complete_protected_mode_iret: the VMM's completion of a protected-mode
// IRET the KVM backend could not emulate (same privilege, no task switch,
// no paging), and everything it must refuse.
#include "vmm/cpu/iret_completion.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace wren {
namespace {

constexpr uint64_t kRamBytes = 1 << 20;
constexpr uint64_t kGdtBase = 0x1000;
constexpr uint64_t kStack = 0x8000;

// GDT entries (selector = index * 8).
constexpr uint64_t kCode32 = 0x00cf9b000000ffff;            // 0x08: flat 32-bit code, DPL 0
constexpr uint64_t kData32 = 0x00cf93000000ffff;            // 0x10: flat data, DPL 0
constexpr uint64_t kCode16 = 0x00009b000000ffff;            // 0x18: 16-bit code, limit 0xffff
constexpr uint64_t kCode32Absent = 0x00cf1b000000ffff;      // 0x20: not present
constexpr uint64_t kCode32Dpl3 = 0x00cffb000000ffff;        // 0x28: DPL 3
constexpr uint64_t kData32Dpl3 = 0x00cff3000000ffff;        // 0x30: DPL 3
constexpr uint64_t kCode32Unaccessed = 0x00cf9a000000ffff;  // 0x38: type 0xa

constexpr uint64_t kCf = 1 << 0, kIf = 1 << 9, kIopl3 = 3 << 12, kNt = 1 << 14, kVm = 1 << 17, kAc = 1 << 18,
                   kVif = 1 << 19;

class FakeMemory final : public GuestPhysicalReader {
 public:
  FakeMemory() : bytes_(kRamBytes) {
    const uint64_t gdt[] = {0, kCode32, kData32, kCode16, kCode32Absent, kCode32Dpl3, kData32Dpl3, kCode32Unaccessed};
    std::memcpy(bytes_.data() + kGdtBase, gdt, sizeof gdt);
  }
  bool read(uint64_t gpa, std::span<uint8_t> out) const override {
    if (gpa > bytes_.size() || out.size() > bytes_.size() - gpa) return false;
    std::memcpy(out.data(), bytes_.data() + gpa, out.size());
    return true;
  }
  // Writes `values`, each `width` bytes, at `gpa` (an interrupt frame).
  void frame(uint64_t gpa, std::vector<uint32_t> values, unsigned width) {
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(bytes_.data() + gpa + i * width, &values[i], width);
  }

 private:
  std::vector<uint8_t> bytes_;
};

kvm_segment flat(uint16_t selector, uint8_t type, uint8_t dpl = 0) {
  kvm_segment s{};
  s.selector = selector;
  s.limit = 0xffffffff;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = 1;
  s.s = 1;
  s.g = 1;
  return s;
}

// Ring 0, flat 32-bit protected mode, no paging, IRET at 0x5000.
struct Cpu {
  kvm_regs regs{};
  kvm_sregs sregs{};
  Cpu() {
    regs.rip = 0x5000;
    regs.rsp = kStack;
    regs.rflags = 0x2;
    sregs.cr0 = 0x11;  // PE, ET
    sregs.cs = flat(0x08, 0xb);
    sregs.ss = sregs.ds = sregs.es = flat(0x10, 0x3);
    sregs.gdt.base = kGdtBase;
    sregs.gdt.limit = 8 * 8 - 1;
  }
};

const std::vector<uint8_t> kIret = {0xcf};
const std::vector<uint8_t> kIretW = {0x66, 0xcf};

IretCompletion run(const Cpu& cpu, const FakeMemory& mem, const std::vector<uint8_t>& code = kIret) {
  return complete_protected_mode_iret(cpu.regs, cpu.sregs, code, mem);
}

void expect_refused(const IretCompletion& r, const std::string& why) {
  EXPECT_EQ(r.kind, IretCompletion::Kind::kRefused);
  EXPECT_NE(r.reason.find(why), std::string::npos) << "reason: " << r.reason;
}

TEST(IretCompletion, ThirtyTwoBitReturnToRingZero) {
  FakeMemory mem;
  mem.frame(kStack, {0x12345, 0x08, 0x202 | kCf}, 4);
  Cpu cpu;
  const auto r = run(cpu, mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.operand_bytes, 4u);
  EXPECT_EQ(r.regs.rip, 0x12345u);
  EXPECT_EQ(r.regs.rsp, kStack + 12);
  EXPECT_EQ(r.regs.rflags, 0x203u);  // IF and CF from the frame
  EXPECT_EQ(r.sregs.cs.selector, 0x08);
  EXPECT_EQ(r.sregs.cs.base, 0u);
  EXPECT_EQ(r.sregs.cs.limit, 0xffffffffu);
  EXPECT_EQ(r.sregs.cs.db, 1);
  EXPECT_EQ(r.sregs.cs.type, 0xb);
  EXPECT_EQ(r.sregs.ss.selector, 0x10);  // same privilege: SS untouched
  EXPECT_EQ(r.regs.rax, cpu.regs.rax);
}

TEST(IretCompletion, OperandSizePrefixMakesA16BitFrameAndKeepsHighFlags) {
  FakeMemory mem;
  mem.frame(kStack, {0x1234, 0x08, 0x0246}, 2);
  Cpu cpu;
  cpu.regs.rflags = 0x2 | kAc;
  const auto r = run(cpu, mem, kIretW);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.operand_bytes, 2u);
  EXPECT_EQ(r.regs.rip, 0x1234u);
  EXPECT_EQ(r.regs.rsp, kStack + 6);
  EXPECT_EQ(r.regs.rflags, 0x0246 | kAc);  // a 16-bit IRET leaves AC alone
}

TEST(IretCompletion, SixteenBitCodeSegmentDefaultsTo16BitAndPrefixFlipsIt) {
  FakeMemory mem;
  Cpu cpu;
  cpu.sregs.cs = flat(0x18, 0xb);
  cpu.sregs.cs.db = 0;
  cpu.sregs.cs.limit = 0xffff;
  mem.frame(kStack, {0xfff0, 0x18, 0x2}, 2);
  auto r = run(cpu, mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.operand_bytes, 2u);
  EXPECT_EQ(r.regs.rip, 0xfff0u);
  EXPECT_EQ(r.sregs.cs.db, 0);
  EXPECT_EQ(r.sregs.cs.limit, 0xffffu);

  mem.frame(kStack, {0x200, 0x18, 0x2}, 4);
  r = run(cpu, mem, kIretW);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.operand_bytes, 4u);
  EXPECT_EQ(r.regs.rip, 0x200u);
  EXPECT_EQ(r.regs.rsp, kStack + 12);
}

TEST(IretCompletion, SixteenBitStackUsesSpAndKeepsTheHighHalfOfEsp) {
  FakeMemory mem;
  Cpu cpu;
  cpu.sregs.ss.db = 0;
  cpu.sregs.ss.base = 0x10000;
  cpu.regs.rsp = 0xdead0ff0;
  mem.frame(0x10000 + 0xff0, {0x3000, 0x08, 0x2}, 4);
  const auto r = run(cpu, mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.regs.rip, 0x3000u);
  EXPECT_EQ(r.regs.rsp, 0xdead0ffcu);
}

TEST(IretCompletion, LoadedCodeDescriptorIsMarkedAccessed) {
  FakeMemory mem;
  mem.frame(kStack, {0x4000, 0x38, 0x2}, 4);
  const auto r = run(Cpu(), mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.sregs.cs.type, 0xb);
  EXPECT_EQ(r.sregs.cs.l, 0);
}

TEST(IretCompletion, FlagsAtRingThreeKeepIoplAndIfWhenCplAboveIopl) {
  FakeMemory mem;
  Cpu cpu;
  cpu.sregs.cs = flat(0x2b, 0xb, 3);
  cpu.sregs.ss = flat(0x33, 0x3, 3);
  cpu.regs.rflags = 0x2 | kIf;  // IOPL 0
  mem.frame(kStack, {0x6000, 0x2b, 0x2 | kIopl3 | kCf | kVif}, 4);
  const auto r = run(cpu, mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.regs.rflags, 0x2 | kIf | kCf);  // IOPL, IF and VIF are not the frame's to change at CPL 3
  EXPECT_EQ(r.sregs.cs.selector, 0x2b);
  EXPECT_EQ(r.sregs.cs.dpl, 3);
}

TEST(IretCompletion, FlagsAtRingZeroTakeIoplAndVif) {
  FakeMemory mem;
  mem.frame(kStack, {0x6000, 0x08, 0x2 | kIopl3 | kVif}, 4);
  Cpu cpu;
  cpu.regs.rflags = 0x2 | kIf;
  const auto r = run(cpu, mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_EQ(r.regs.rflags, 0x2 | kIopl3 | kVif);
}

TEST(IretCompletion, OtherInstructionsAreNotIret) {
  FakeMemory mem;
  mem.frame(kStack, {0x12345, 0x08, 0x2}, 4);
  Cpu cpu;
  for (const std::vector<uint8_t>& code : std::vector<std::vector<uint8_t>>{
           {}, {0x90}, {0x66}, {0xcb}, {0x48, 0xcf} /* DEC EAX outside 64-bit code */, {0xf0, 0xcf}})
    EXPECT_EQ(run(cpu, mem, code).kind, IretCompletion::Kind::kNotIret);
}

TEST(IretCompletion, RefusesBadReturnSelectors) {
  FakeMemory mem;
  Cpu cpu;
  mem.frame(kStack, {0x1000, 0x00, 0x2}, 4);
  expect_refused(run(cpu, mem), "null");
  mem.frame(kStack, {0x1000, 0x03, 0x2}, 4);  // null with RPL 3 is still null
  expect_refused(run(cpu, mem), "null");
  mem.frame(kStack, {0x1000, 0x0c, 0x2}, 4);
  expect_refused(run(cpu, mem), "LDT");
  mem.frame(kStack, {0x1000, 0x40, 0x2}, 4);
  expect_refused(run(cpu, mem), "beyond the GDT limit");
  mem.frame(kStack, {0x1000, 0x10, 0x2}, 4);
  expect_refused(run(cpu, mem), "not a code segment");
  mem.frame(kStack, {0x1000, 0x28, 0x2}, 4);  // RPL 0, DPL 3
  expect_refused(run(cpu, mem), "DPL 3");
}

TEST(IretCompletion, RefusesANonPresentCodeSegment) {
  FakeMemory mem;
  mem.frame(kStack, {0x1000, 0x20, 0x2}, 4);
  expect_refused(run(Cpu(), mem), "not present");
}

TEST(IretCompletion, RefusesPrivilegeChanges) {
  FakeMemory mem;
  mem.frame(kStack, {0x1000, 0x2b, 0x2}, 4);  // ring 0 to ring 3
  expect_refused(run(Cpu(), mem), "privilege change");

  Cpu ring3;
  ring3.sregs.cs = flat(0x2b, 0xb, 3);
  ring3.sregs.ss = flat(0x33, 0x3, 3);
  mem.frame(kStack, {0x1000, 0x08, 0x2}, 4);  // RPL below CPL
  expect_refused(run(ring3, mem), "privilege change");
}

TEST(IretCompletion, RefusesAStackOutsideRamOrPastItsLimit) {
  FakeMemory mem;
  Cpu cpu;
  cpu.regs.rsp = kRamBytes - 8;  // 12-byte frame runs off the end of RAM
  expect_refused(run(cpu, mem), "outside guest RAM");
  cpu.regs.rsp = 0x7ffff000;
  expect_refused(run(cpu, mem), "outside guest RAM");

  Cpu limited;
  limited.sregs.ss.limit = kStack + 8;
  limited.sregs.ss.g = 0;
  mem.frame(kStack, {0x1000, 0x08, 0x2}, 4);
  expect_refused(run(limited, mem), "limit");

  Cpu wraps;
  wraps.sregs.ss.db = 0;
  wraps.regs.rsp = 0xfffa;  // SP + 12 wraps at 64 KiB
  expect_refused(run(wraps, mem), "limit");
}

TEST(IretCompletion, RefusesAGdtOutsideRam) {
  FakeMemory mem;
  mem.frame(kStack, {0x1000, 0x08, 0x2}, 4);
  Cpu cpu;
  cpu.sregs.gdt.base = 0xf0000000;
  expect_refused(run(cpu, mem), "GDT entry");
}

TEST(IretCompletion, RefusesAReturnPastTheCodeSegmentLimit) {
  FakeMemory mem;
  mem.frame(kStack, {0x10000, 0x18, 0x2}, 4);  // 16-bit segment, limit 0xffff
  expect_refused(run(Cpu(), mem), "code segment limit");
}

TEST(IretCompletion, RefusesTaskReturnsAndVirtual8086) {
  FakeMemory mem;
  mem.frame(kStack, {0x1000, 0x08, 0x2}, 4);
  Cpu nested;
  nested.regs.rflags |= kNt;
  expect_refused(run(nested, mem), "NT");

  Cpu vm86;
  vm86.regs.rflags |= kVm;
  expect_refused(run(vm86, mem), "virtual-8086");

  mem.frame(kStack, {0x1000, 0x08, 0x2 | kVm}, 4);  // ring 0 returning into VM86
  expect_refused(run(Cpu(), mem), "virtual-8086");
}

TEST(IretCompletion, RefusesLongModePagingAndRealMode) {
  FakeMemory mem;
  mem.frame(kStack, {0x1000, 0x08, 0x2}, 4);
  Cpu long_mode;
  long_mode.sregs.efer = 0x500;  // LME, LMA
  long_mode.sregs.cr0 |= 1u << 31;
  long_mode.sregs.cs.l = 1;
  long_mode.sregs.cs.db = 0;
  expect_refused(run(long_mode, mem, {0x48, 0xcf}), "long mode");  // IRETQ
  expect_refused(run(long_mode, mem), "long mode");

  Cpu paging;
  paging.sregs.cr0 |= 1u << 31;
  expect_refused(run(paging, mem), "paging");

  Cpu real;
  real.sregs.cr0 = 0x10;
  expect_refused(run(real, mem), "real mode");
}

TEST(IretCompletion, RefusesAnUnusableOrReadOnlyStackSegment) {
  FakeMemory mem;
  mem.frame(kStack, {0x1000, 0x08, 0x2}, 4);
  Cpu read_only;
  read_only.sregs.ss.type = 0x1;
  expect_refused(run(read_only, mem), "writable data segment");
  Cpu expand_down;
  expand_down.sregs.ss.type = 0x7;
  expect_refused(run(expand_down, mem), "expand-down");
  Cpu mismatched;
  mismatched.sregs.ss.dpl = 3;
  expect_refused(run(mismatched, mem), "SS.DPL");
}

// The backend quirk: the frame sits at ESP as if SS had base 0.
struct ShiftedStack : Cpu {
  static constexpr uint64_t kSsBase = 0x40000;
  ShiftedStack() {
    sregs.ss.base = kSsBase;
    regs.rsp = kStack;
  }
};

TEST(IretCompletion, FrameTheBackendPushedAtTheFlatAddressIsUsedWhenTheRealOneIsInvalid) {
  FakeMemory mem;
  mem.frame(ShiftedStack::kSsBase + kStack, {0x3a363, 0x04b09340, 0x000c1de4}, 4);  // saved registers, no frame
  mem.frame(kStack, {0x837c1, 0x08, 0x206}, 4);
  const ShiftedStack cpu;
  const auto r = run(cpu, mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_TRUE(r.frame_ignored_ss_base);
  EXPECT_EQ(r.regs.rip, 0x837c1u);
  EXPECT_EQ(r.regs.rflags, 0x206u);
  EXPECT_EQ(r.regs.rsp, kStack + 12);
  EXPECT_EQ(r.sregs.ss.base, ShiftedStack::kSsBase);
}

TEST(IretCompletion, ArchitecturalFrameWinsOverTheFlatOne) {
  FakeMemory mem;
  mem.frame(ShiftedStack::kSsBase + kStack, {0x1111, 0x08, 0x2}, 4);
  mem.frame(kStack, {0x2222, 0x08, 0x2}, 4);
  const auto r = run(ShiftedStack(), mem);
  ASSERT_EQ(r.kind, IretCompletion::Kind::kCompleted) << r.reason;
  EXPECT_FALSE(r.frame_ignored_ss_base);
  EXPECT_EQ(r.regs.rip, 0x1111u);
}

TEST(IretCompletion, FlatFrameNeedsAPlausibleEflagsImageAndAValidSelector) {
  FakeMemory mem;
  mem.frame(ShiftedStack::kSsBase + kStack, {0x1111, 0x9340, 0x2}, 4);  // invalid: beyond the GDT
  mem.frame(kStack, {0x2222, 0x08, 0x0}, 4);                            // bit 1 clear
  expect_refused(run(ShiftedStack(), mem), "beyond the GDT limit");     // the architectural reason
  mem.frame(kStack, {0x2222, 0x08, 0x2 | (1 << 15)}, 4);                // a reserved bit set
  expect_refused(run(ShiftedStack(), mem), "beyond the GDT limit");
  mem.frame(kStack, {0x2222, 0x10, 0x2}, 4);  // a data segment
  expect_refused(run(ShiftedStack(), mem), "beyond the GDT limit");
}

TEST(IretCompletion, NoFlatFallbackWithAFlatStackSegment) {
  FakeMemory mem;
  mem.frame(kStack, {0x1111, 0x9340, 0x2}, 4);
  const auto r = run(Cpu(), mem);
  expect_refused(r, "beyond the GDT limit");
  EXPECT_FALSE(r.frame_ignored_ss_base);
}

}  // namespace
}  // namespace wren
