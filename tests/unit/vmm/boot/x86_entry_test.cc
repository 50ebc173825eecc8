#include "vmm/boot/x86_entry.h"

#include <gtest/gtest.h>

#include <map>

#include "hypervisor/layout.h"

namespace wren {
namespace {

using layout::kGiB;
using layout::kMiB;

// Walks the guest's 4-level page tables the way the MMU does; nullopt if
// a level is not present. Independent of the code under test.
std::optional<uint64_t> translate(const GuestMemory& mem, uint64_t cr3, uint64_t va) {
  constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
  auto entry = [&](uint64_t table, uint64_t idx) { return mem.read_obj<uint64_t>((table & kAddrMask) + idx * 8); };
  auto pml4e = entry(cr3, (va >> 39) & 511);
  if (!pml4e || !(*pml4e & 1)) return std::nullopt;
  auto pdpte = entry(*pml4e, (va >> 30) & 511);
  if (!pdpte || !(*pdpte & 1) || (*pdpte & 0x80)) return std::nullopt;
  auto pde = entry(*pdpte, (va >> 21) & 511);
  if (!pde || !(*pde & 1)) return std::nullopt;
  if (!(*pde & 0x80)) return std::nullopt;  // we only expect 2 MiB pages
  if (!(*pde & 2)) return std::nullopt;     // must be writable
  return (*pde & 0x000fffffffe00000ull) | (va & (2 * kMiB - 1));
}

struct Decoded {
  uint64_t base;
  uint32_t limit;  // in bytes
  uint8_t type, s, dpl, present, l, db, g;
};

Decoded decode(uint64_t d) {
  Decoded x{};
  x.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
  const uint32_t raw = static_cast<uint32_t>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
  x.g = (d >> 55) & 1;
  x.limit = x.g ? raw * 4096 + 4095 : raw;
  x.type = (d >> 40) & 0xf;
  x.s = (d >> 44) & 1;
  x.dpl = (d >> 45) & 3;
  x.present = (d >> 47) & 1;
  x.l = (d >> 53) & 1;
  x.db = (d >> 54) & 1;
  return x;
}

void expect_segment_matches(const kvm_segment& seg, uint64_t desc, uint16_t selector) {
  const Decoded d = decode(desc);
  EXPECT_EQ(seg.selector, selector);
  EXPECT_EQ(seg.base, d.base);
  EXPECT_EQ(seg.limit, d.limit);
  EXPECT_EQ(seg.type, d.type);
  EXPECT_EQ(seg.s, d.s);
  EXPECT_EQ(seg.dpl, d.dpl);
  EXPECT_EQ(seg.present, d.present);
  EXPECT_EQ(seg.l, d.l);
  EXPECT_EQ(seg.db, d.db);
  EXPECT_EQ(seg.g, d.g);
}

// KVM's reset state, roughly: real mode with CD/NW set.
kvm_sregs reset_sregs() {
  kvm_sregs s{};
  s.cr0 = 0x60000010;
  s.apic_base = 0xfee00900;
  s.cs.selector = 0xf000;
  s.cs.base = 0xffff0000;
  return s;
}

TEST(X86Entry, PageTablesIdentityMapFirst4GiB) {
  GuestMemory mem(GuestMemory::x86_layout(64 * kMiB));
  ASSERT_TRUE(write_boot_structures(mem, EntryMode::k64Bit).ok());
  const kvm_sregs s = boot_sregs(reset_sregs(), EntryMode::k64Bit);
  for (uint64_t va = 0; va < 4 * kGiB; va += 2 * kMiB) {
    ASSERT_EQ(translate(mem, s.cr3, va), va) << std::hex << va;
    ASSERT_EQ(translate(mem, s.cr3, va + 2 * kMiB - 1), va + 2 * kMiB - 1) << std::hex << va;
  }
  EXPECT_EQ(translate(mem, s.cr3, 4 * kGiB), std::nullopt);               // nothing above 4 GiB
  EXPECT_EQ(translate(mem, s.cr3, 0xffffffff80000000ull), std::nullopt);  // nor in the upper half
}

TEST(X86Entry, GdtDescribesTheSegmentsInSregs64) {
  GuestMemory mem(GuestMemory::x86_layout(64 * kMiB));
  ASSERT_TRUE(write_boot_structures(mem, EntryMode::k64Bit).ok());
  const kvm_sregs s = boot_sregs(reset_sregs(), EntryMode::k64Bit);
  EXPECT_EQ(s.gdt.base, layout::kGdtAddr);
  ASSERT_EQ((s.gdt.limit + 1) % 8, 0);
  std::vector<uint64_t> gdt((s.gdt.limit + 1) / 8);
  for (size_t i = 0; i < gdt.size(); ++i) gdt[i] = mem.read_obj<uint64_t>(s.gdt.base + i * 8).value();
  EXPECT_EQ(gdt[0], 0u);
  expect_segment_matches(s.cs, gdt[0x10 / 8], 0x10);
  for (const kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss}) expect_segment_matches(*seg, gdt[0x18 / 8], 0x18);
  EXPECT_EQ(gdt.size(), 4u);  // ends before the IDT
  EXPECT_LE(s.gdt.base + s.gdt.limit, layout::kIdtAddr - 1);

  // What the boot protocol demands of them.
  EXPECT_EQ(s.cs.l, 1);
  EXPECT_EQ(s.cs.db, 0);
  EXPECT_EQ(s.cs.type, 0xb);  // execute/read, accessed
  EXPECT_EQ(s.cs.base, 0u);
  EXPECT_EQ(s.ds.type, 0x3);  // read/write, accessed
  EXPECT_EQ(s.ds.limit, 0xffffffffu);
  EXPECT_EQ(s.ds.db, 1);
  EXPECT_EQ(s.tr.type, 0xb);  // busy TSS, as VMX requires
  EXPECT_EQ(s.tr.s, 0);
  EXPECT_EQ(s.tr.present, 1);
  EXPECT_EQ(s.tr.unusable, 0);
}

TEST(X86Entry, LongModeControlRegisters) {
  kvm_sregs current = reset_sregs();
  const kvm_sregs s = boot_sregs(current, EntryMode::k64Bit);
  EXPECT_EQ(s.cr0, 0x80000011u);  // PG | ET | PE
  EXPECT_EQ(s.cr3, layout::kPml4Addr);
  EXPECT_EQ(s.cr4, 0x20u);    // PAE
  EXPECT_EQ(s.efer, 0x500u);  // LMA | LME
  EXPECT_EQ(s.idt.base, layout::kIdtAddr);
  EXPECT_EQ(s.apic_base, current.apic_base);  // untouched
}

TEST(X86Entry, ProtectedModeEntry) {
  GuestMemory mem(GuestMemory::x86_layout(64 * kMiB));
  ASSERT_TRUE(write_boot_structures(mem, EntryMode::k32Bit).ok());
  const kvm_sregs s = boot_sregs(reset_sregs(), EntryMode::k32Bit);
  EXPECT_EQ(s.cr0, 0x11u);  // PE | ET, no paging
  EXPECT_EQ(s.cr4, 0u);
  EXPECT_EQ(s.efer, 0u);
  const uint64_t code = mem.read_obj<uint64_t>(layout::kGdtAddr + 0x10).value();
  expect_segment_matches(s.cs, code, 0x10);
  EXPECT_EQ(s.cs.l, 0);
  EXPECT_EQ(s.cs.db, 1);
  EXPECT_EQ(s.cs.limit, 0xffffffffu);
  // No page tables are written for 32-bit entry.
  EXPECT_EQ(mem.read_obj<uint64_t>(layout::kPml4Addr), 0u);
}

TEST(X86Entry, BootRegisters) {
  BootImage img;
  img.entry_rip = 0x100200;
  img.zero_page_gpa = layout::kZeroPageAddr;
  const kvm_regs r = boot_regs(img);
  EXPECT_EQ(r.rip, 0x100200u);
  EXPECT_EQ(r.rsi, layout::kZeroPageAddr);
  EXPECT_EQ(r.rflags, 2u);
  EXPECT_EQ(r.rsp, layout::kBootStackTop);
  EXPECT_EQ(r.rax, 0u);
}

TEST(X86Entry, FpuAndMsrs) {
  const kvm_fpu f = boot_fpu();
  EXPECT_EQ(f.fcw, 0x37f);
  EXPECT_EQ(f.mxcsr, 0x1f80u);
  std::map<uint32_t, uint64_t> msrs;
  for (const auto& m : boot_msrs()) EXPECT_TRUE(msrs.emplace(m.index, m.data).second) << "duplicate " << m.index;
  const std::map<uint32_t, uint64_t> expected = {
      {0x10, 0},       {0x174, 0},      {0x175, 0},      {0x176, 0},      {0x1a0, 1},      {0x2ff, 0x806},
      {0xc0000081, 0}, {0xc0000082, 0}, {0xc0000083, 0}, {0xc0000084, 0}, {0xc0000102, 0},
  };
  EXPECT_EQ(msrs, expected);
}

TEST(X86Entry, RefusesMemoryWithoutLowPages) {
  GuestMemory mem({{layout::kHighMemStart, 16 * kMiB}});
  EXPECT_FALSE(write_boot_structures(mem, EntryMode::k64Bit).ok());
}

}  // namespace
}  // namespace wren
