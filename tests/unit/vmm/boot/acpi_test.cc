#include "vmm/boot/acpi.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "hypervisor/layout.h"

namespace wren {
namespace {

using Bytes = std::vector<uint8_t>;

uint64_t le(const Bytes& b, size_t off, size_t width) {
  if (width > 8 || off + width > b.size()) throw std::out_of_range("le read past the end");
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= uint64_t{b[off + i]} << (8 * i);
  return v;
}

uint8_t sum(const Bytes& b) {
  uint8_t s = 0;
  for (uint8_t x : b) s = static_cast<uint8_t>(s + x);
  return s;
}

Bytes read_mem(const GuestMemory& mem, uint64_t gpa, size_t n) {
  Bytes out(n);
  if (!mem.read(gpa, out)) throw std::out_of_range("table outside RAM");
  return out;
}

// Reads an SDT whose length is in its header.
Bytes read_table(const GuestMemory& mem, uint64_t gpa) {
  const auto len = mem.read_obj<uint32_t>(gpa + 4);
  if (!len || *len < 36 || *len > 0x20000) throw std::out_of_range("bad table length");
  return read_mem(mem, gpa, *len);
}

std::string sig(const Bytes& t) { return std::string(t.begin(), t.begin() + 4); }

// ---- A small AML reader, independent of the encoder, that checks every
// PkgLength ends exactly where its contents end and records named objects.
struct Value {
  enum Kind { kInteger, kString, kPackage, kBuffer } kind = kInteger;
  uint64_t integer = 0;
  std::string str;
  std::vector<Value> elements;
  Bytes buffer;
};

class AmlReader {
 public:
  explicit AmlReader(const Bytes& b) : b_(b) {}

  void parse_table() {
    size_t p = 36;
    term_list(p, b_.size(), "\\");
    if (p != b_.size()) throw std::runtime_error("trailing bytes");
  }
  std::map<std::string, Value> names;
  std::set<std::string> devices;

 private:
  uint8_t at(size_t p) const {
    if (p >= b_.size()) throw std::runtime_error("AML read past the end");
    return b_[p];
  }
  size_t pkg_end(size_t& p) {
    const size_t start = p;
    const uint8_t lead = at(p++);
    const unsigned extra = lead >> 6;
    uint64_t len = extra ? (lead & 0xf) : (lead & 0x3f);
    for (unsigned i = 0; i < extra; ++i) len |= uint64_t{at(p++)} << (4 + 8 * i);
    if (start + len > b_.size()) throw std::runtime_error("PkgLength past the end");
    return start + len;
  }
  std::string seg(size_t& p) {
    std::string s;
    for (int i = 0; i < 4; ++i) s += static_cast<char>(at(p++));
    return s;
  }
  std::string name_string(size_t& p) {
    std::string prefix;
    if (at(p) == '\\') prefix = "\\", ++p;
    while (at(p) == '^') prefix += "^", ++p;
    std::vector<std::string> segs;
    if (at(p) == 0x2e) {
      ++p;
      segs = {seg(p), seg(p)};
    } else if (at(p) == 0x2f) {
      ++p;
      const unsigned n = at(p++);
      for (unsigned i = 0; i < n; ++i) segs.push_back(seg(p));
    } else if (at(p) == 0) {
      ++p;
    } else {
      segs.push_back(seg(p));
    }
    std::string out = prefix;
    for (size_t i = 0; i < segs.size(); ++i) out += (i ? "." : "") + segs[i];
    return out;
  }
  static std::string resolve(const std::string& scope, const std::string& name) {
    if (name.starts_with("\\")) return name;
    if (name.find('.') != std::string::npos || name.starts_with("^")) throw std::runtime_error("unsupported name");
    return scope == "\\" ? "\\" + name : scope + "." + name;
  }
  void term_list(size_t& p, size_t end, const std::string& scope) {
    while (p < end) term(p, scope);
    if (p != end) throw std::runtime_error("term overran its package");
  }
  void term(size_t& p, const std::string& scope) {
    const uint8_t op = at(p++);
    if (op == 0x10 || (op == 0x5b && at(p) == 0x82)) {
      if (op == 0x5b) ++p;
      const size_t end = pkg_end(p);
      const std::string path = resolve(scope, name_string(p));
      if (op == 0x5b) devices.insert(path);
      term_list(p, end, path);
    } else if (op == 0x08) {
      const std::string path = resolve(scope, name_string(p));
      if (names.count(path)) throw std::runtime_error("duplicate name " + path);
      names[path] = data(p);
    } else {
      throw std::runtime_error("unexpected opcode " + std::to_string(op));
    }
  }
  Value data(size_t& p) {
    Value v;
    const uint8_t op = at(p++);
    auto fixed = [&](size_t width) {
      v.integer = 0;
      for (size_t i = 0; i < width; ++i) v.integer |= uint64_t{at(p++)} << (8 * i);
    };
    switch (op) {
      case 0x00: v.integer = 0; break;
      case 0x01: v.integer = 1; break;
      case 0xff: v.integer = ~0ull; break;
      case 0x0a: fixed(1); break;
      case 0x0b: fixed(2); break;
      case 0x0c: fixed(4); break;
      case 0x0e: fixed(8); break;
      case 0x0d:
        v.kind = Value::kString;
        while (at(p) != 0) v.str += static_cast<char>(at(p++));
        ++p;
        break;
      case 0x12: {
        v.kind = Value::kPackage;
        const size_t end = pkg_end(p);
        const unsigned count = at(p++);
        while (p < end) v.elements.push_back(data(p));
        if (p != end || v.elements.size() != count) throw std::runtime_error("bad package");
        break;
      }
      case 0x11: {
        v.kind = Value::kBuffer;
        const size_t end = pkg_end(p);
        const Value size = data(p);
        if (size.kind != Value::kInteger || p + size.integer != end) throw std::runtime_error("bad buffer size");
        v.buffer.assign(b_.begin() + static_cast<long>(p), b_.begin() + static_cast<long>(end));
        p = end;
        break;
      }
      default: throw std::runtime_error("unexpected data opcode " + std::to_string(op));
    }
    return v;
  }
  const Bytes& b_;
};

struct Resource {
  uint8_t tag;  // small: type << 3 | len as encoded; large: the full first byte
  Bytes body;
};

// Splits a resource template into descriptors; the list must end with an end tag.
std::vector<Resource> parse_resources(const Bytes& b) {
  std::vector<Resource> out;
  size_t p = 0;
  while (p < b.size()) {
    const uint8_t tag = b[p];
    size_t len = 0, hdr = 1;
    if (tag & 0x80) {
      len = le(b, p + 1, 2);
      hdr = 3;
    } else {
      len = tag & 7;
    }
    if (p + hdr + len > b.size()) throw std::runtime_error("resource past the end");
    out.push_back({tag, Bytes(b.begin() + static_cast<long>(p + hdr), b.begin() + static_cast<long>(p + hdr + len))});
    p += hdr + len;
    if (tag == 0x79) {
      if (p != b.size()) throw std::runtime_error("bytes after end tag");
      return out;
    }
  }
  throw std::runtime_error("no end tag");
}

class AcpiTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  GuestMemory mem{GuestMemory::x86_layout(64 * layout::kMiB)};
};

TEST_P(AcpiTest, PointerChainAndChecksums) {
  const uint32_t n = GetParam();
  auto r = write_acpi_tables(mem, {.num_vcpus = n});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_LE(r->end, layout::kAcpiTablesEnd);
  EXPECT_GE(r->dsdt, layout::kAcpiTablesAddr);

  const Bytes rsdp = read_mem(mem, layout::kRsdpAddr, 36);
  EXPECT_EQ(std::string(rsdp.begin(), rsdp.begin() + 8), "RSD PTR ");
  EXPECT_EQ(sum(Bytes(rsdp.begin(), rsdp.begin() + 20)), 0);
  EXPECT_EQ(sum(rsdp), 0);
  EXPECT_EQ(rsdp[15], 2);
  EXPECT_EQ(le(rsdp, 20, 4), 36u);
  EXPECT_EQ(std::string(rsdp.begin() + 9, rsdp.begin() + 15), "WREN  ");

  const Bytes xsdt = read_table(mem, le(rsdp, 24, 8));
  EXPECT_EQ(sig(xsdt), "XSDT");
  EXPECT_EQ(sum(xsdt), 0);
  ASSERT_EQ((xsdt.size() - 36) % 8, 0u);
  std::set<std::string> found;
  for (size_t off = 36; off < xsdt.size(); off += 8) {
    const Bytes t = read_table(mem, le(xsdt, off, 8));
    EXPECT_EQ(sum(t), 0) << sig(t);
    EXPECT_EQ(std::string(t.begin() + 10, t.begin() + 16), "WREN  ");
    EXPECT_LE(le(xsdt, off, 8) + t.size(), layout::kAcpiTablesEnd);
    found.insert(sig(t));
  }
  EXPECT_EQ(found, (std::set<std::string>{"FACP", "APIC", "MCFG", "HPET"}));

  // FADT -> DSDT and FACS.
  const Bytes fadt = read_table(mem, r->fadt);
  const Bytes dsdt = read_table(mem, le(fadt, 140, 8));
  EXPECT_EQ(le(fadt, 40, 4), le(fadt, 140, 8));
  EXPECT_EQ(sig(dsdt), "DSDT");
  EXPECT_EQ(sum(dsdt), 0);
  const uint64_t facs = le(fadt, 132, 8);
  EXPECT_EQ(le(fadt, 36, 4), facs);
  EXPECT_EQ(facs % 64, 0u);
  const Bytes facs_bytes = read_mem(mem, facs, 64);
  EXPECT_EQ(std::string(facs_bytes.begin(), facs_bytes.begin() + 4), "FACS");
  EXPECT_EQ(le(facs_bytes, 4, 4), 64u);
}

TEST_P(AcpiTest, MadtHasOneEnabledLapicPerVcpu) {
  const uint32_t n = GetParam();
  auto r = write_acpi_tables(mem, {.num_vcpus = n});
  ASSERT_TRUE(r.ok()) << r.error();
  const Bytes madt = read_table(mem, r->madt);
  EXPECT_EQ(sig(madt), "APIC");
  EXPECT_EQ(le(madt, 36, 4), layout::kLapicAddr);
  EXPECT_EQ(le(madt, 40, 4), 1u);  // PCAT_COMPAT
  std::vector<uint8_t> apic_ids;
  int ioapics = 0, nmis = 0;
  std::map<uint8_t, std::pair<uint32_t, uint16_t>> overrides;
  for (size_t p = 44; p < madt.size();) {
    const uint8_t type = madt[p], len = madt[p + 1];
    ASSERT_GE(len, 2);
    ASSERT_LE(p + len, madt.size());
    switch (type) {
      case 0:
        ASSERT_EQ(len, 8);
        EXPECT_EQ(madt[p + 2], apic_ids.size());  // processor UID
        apic_ids.push_back(madt[p + 3]);
        EXPECT_EQ(le(madt, p + 4, 4), 1u);  // enabled
        break;
      case 1:
        ASSERT_EQ(len, 12);
        ++ioapics;
        EXPECT_EQ(le(madt, p + 4, 4), layout::kIoApicAddr);
        EXPECT_EQ(le(madt, p + 8, 4), 0u);
        break;
      case 2:
        ASSERT_EQ(len, 10);
        EXPECT_EQ(madt[p + 2], 0);  // ISA
        overrides[madt[p + 3]] = {static_cast<uint32_t>(le(madt, p + 4, 4)), static_cast<uint16_t>(le(madt, p + 8, 2))};
        break;
      case 4:
        ASSERT_EQ(len, 6);
        ++nmis;
        EXPECT_EQ(madt[p + 2], 0xff);
        EXPECT_EQ(madt[p + 5], 1);  // LINT1
        break;
      default: ADD_FAILURE() << "unexpected MADT entry " << int(type);
    }
    p += len;
  }
  std::vector<uint8_t> expected(n);
  for (uint32_t i = 0; i < n; ++i) expected[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(apic_ids, expected);
  EXPECT_EQ(ioapics, 1);
  EXPECT_EQ(nmis, 1);
  ASSERT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides[0], std::make_pair(2u, uint16_t{0}));
  EXPECT_EQ(overrides[9], std::make_pair(9u, uint16_t{0x000d}));  // level, active high
}

TEST_P(AcpiTest, DsdtParsesAndDescribesTheMachine) {
  const uint32_t n = GetParam();
  auto r = write_acpi_tables(mem, {.num_vcpus = n});
  ASSERT_TRUE(r.ok()) << r.error();
  const Bytes dsdt = read_table(mem, r->dsdt);
  EXPECT_EQ(dsdt[8], 2);  // revision 2: 64-bit integers
  AmlReader aml(dsdt);
  ASSERT_NO_THROW(aml.parse_table());

  EXPECT_TRUE(aml.devices.count("\\_SB_.PCI0"));
  EXPECT_EQ(aml.names.at("\\_SB_.PCI0._HID").integer, 0x080ad041u);  // PNP0A08
  EXPECT_EQ(aml.names.at("\\_SB_.PCI0._CID").integer, 0x030ad041u);  // PNP0A03
  EXPECT_FALSE(aml.names.count("\\_SB_.PCI0._ADR"));                 // never both _HID and _ADR
  for (const char* zero : {"_SEG", "_UID", "_BBN"})
    EXPECT_EQ(aml.names.at(std::string("\\_SB_.PCI0.") + zero).integer, 0u) << zero;

  // _PRT: every slot and pin routed to 16 + (slot + pin) % 4.
  const Value& prt = aml.names.at("\\_SB_.PCI0._PRT");
  ASSERT_EQ(prt.kind, Value::kPackage);
  ASSERT_EQ(prt.elements.size(), 128u);
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (const Value& e : prt.elements) {
    ASSERT_EQ(e.kind, Value::kPackage);
    ASSERT_EQ(e.elements.size(), 4u);
    const uint64_t addr = e.elements[0].integer, pin = e.elements[1].integer;
    EXPECT_EQ(addr & 0xffff, 0xffffu);
    const uint64_t slot = addr >> 16;
    EXPECT_LT(slot, 32u);
    EXPECT_LT(pin, 4u);
    EXPECT_EQ(e.elements[2].integer, 0u);
    EXPECT_EQ(e.elements[3].integer, layout::kPciIntxFirstGsi + (slot + pin) % 4);
    seen.insert({slot, pin});
  }
  EXPECT_EQ(seen.size(), 128u);

  // _CRS: bus range, config ports, I/O and MMIO windows.
  const Value& crs = aml.names.at("\\_SB_.PCI0._CRS");
  ASSERT_EQ(crs.kind, Value::kBuffer);
  const auto res = parse_resources(crs.buffer);
  ASSERT_EQ(res.size(), 6u);
  auto word = [](const Resource& x, size_t i) { return le(x.body, 3 + 2 * i, 2); };  // gra, min, max, tra, len
  auto dword = [](const Resource& x, size_t i) { return le(x.body, 3 + 4 * i, 4); };
  EXPECT_EQ(res[0].tag, 0x88);
  EXPECT_EQ(res[0].body[0], 2);  // bus numbers
  EXPECT_EQ(word(res[0], 1), 0u);
  EXPECT_EQ(word(res[0], 2), 255u);
  EXPECT_EQ(word(res[0], 4), 256u);
  EXPECT_EQ(res[1].tag, 0x47);
  EXPECT_EQ(le(res[1].body, 1, 2), 0xcf8u);
  EXPECT_EQ(res[1].body[6], 8);
  EXPECT_EQ(res[2].tag, 0x88);
  EXPECT_EQ(res[2].body[0], 1);  // I/O
  EXPECT_EQ(word(res[2], 1), 0u);
  EXPECT_EQ(word(res[2], 2), 0xcf7u);
  EXPECT_EQ(word(res[2], 4), 0xcf8u);
  EXPECT_EQ(word(res[3], 1), 0xd00u);
  EXPECT_EQ(word(res[3], 2), 0xffffu);
  EXPECT_EQ(word(res[3], 4), 0xf300u);
  EXPECT_EQ(res[4].tag, 0x87);
  EXPECT_EQ(res[4].body[0], 0);  // memory
  EXPECT_EQ(dword(res[4], 1), layout::kPciMmio32Start);
  EXPECT_EQ(dword(res[4], 2), layout::kPciMmio32End - 1);
  EXPECT_EQ(dword(res[4], 4), layout::kPciMmio32End - layout::kPciMmio32Start);
  EXPECT_EQ(res[5].tag, 0x79);

  // COM1.
  EXPECT_EQ(aml.names.at("\\_SB_.COM1._HID").integer, 0x0105d041u);  // PNP0501
  const auto com = parse_resources(aml.names.at("\\_SB_.COM1._CRS").buffer);
  ASSERT_EQ(com.size(), 3u);
  EXPECT_EQ(le(com[0].body, 1, 2), layout::kPortCom1);
  EXPECT_EQ(le(com[1].body, 0, 2), 1u << layout::kIrqCom1);

  // One processor device per vCPU, _UID = MADT processor UID.
  for (uint32_t i = 0; i < n; ++i) {
    char path[32];
    std::snprintf(path, sizeof(path), "\\_SB_.C%03X", i);
    ASSERT_TRUE(aml.devices.count(path)) << path;
    EXPECT_EQ(aml.names.at(std::string(path) + "._HID").str, "ACPI0007");
    EXPECT_EQ(aml.names.at(std::string(path) + "._UID").integer, i);
  }
  // Motherboard resources reserve the ECAM window for Linux's MCFG check.
  ASSERT_TRUE(aml.devices.count("\\_SB_.MRES"));
  EXPECT_EQ(aml.names.at("\\_SB_.MRES._HID").integer, 0x020cd041u);  // PNP0C02
  // The HPET's register block.
  ASSERT_TRUE(aml.devices.count("\\_SB_.HPET"));
  EXPECT_EQ(aml.names.at("\\_SB_.HPET._HID").integer, 0x0301d041u);  // PNP0103
  const auto hpet = parse_resources(aml.names.at("\\_SB_.HPET._CRS").buffer);
  ASSERT_EQ(hpet.size(), 2u);
  EXPECT_EQ(hpet[0].tag, 0x86);  // Memory32Fixed
  EXPECT_EQ(le(hpet[0].body, 1, 4), 0xfed00000u);
  EXPECT_EQ(le(hpet[0].body, 5, 4), 0x400u);
  EXPECT_EQ(aml.devices.size(), 4u + n);

  // \_S5: SLP_TYP 5 for power off.
  const Value& s5 = aml.names.at("\\_S5_");
  ASSERT_EQ(s5.elements.size(), 4u);
  EXPECT_EQ(s5.elements[0].integer, 5u);
  EXPECT_EQ(s5.elements[1].integer, 5u);
}

INSTANTIATE_TEST_SUITE_P(Vcpus, AcpiTest, ::testing::Values(1u, 2u, 8u, 255u));

TEST(Acpi, FadtFields) {
  const Bytes fadt = build_fadt(0xe0140, 0xe0100);
  EXPECT_EQ(sig(fadt), "FACP");
  EXPECT_EQ(fadt.size(), 276u);
  EXPECT_EQ(fadt[8], 6);
  EXPECT_EQ(sum(fadt), 0);
  EXPECT_EQ(le(fadt, 46, 2), layout::kIrqAcpiSci);
  EXPECT_EQ(le(fadt, 48, 4), 0u);  // no SMI command port
  EXPECT_EQ(le(fadt, 56, 4), layout::kPortAcpiPm1aEvt);
  EXPECT_EQ(le(fadt, 64, 4), layout::kPortAcpiPm1aCnt);
  EXPECT_EQ(le(fadt, 76, 4), layout::kPortAcpiPmTimer);
  EXPECT_EQ(fadt[88], 4);                   // PM1_EVT_LEN
  EXPECT_EQ(fadt[89], 2);                   // PM1_CNT_LEN
  EXPECT_EQ(fadt[91], 4);                   // PM_TMR_LEN
  EXPECT_EQ(le(fadt, 109, 2) & 0x2, 0x2u);  // 8042 present
  const uint64_t flags = le(fadt, 112, 4);
  EXPECT_EQ(flags & (1u << 20), 0u);  // not hardware-reduced
  EXPECT_EQ(flags & (1u << 10), 0u);  // no reset register
  EXPECT_EQ(flags & (1u << 4), 0u);   // a fixed power button (QMP system_powerdown presses it)
  EXPECT_EQ(Bytes(fadt.begin() + 116, fadt.begin() + 128), Bytes(12, 0));  // no RESET_REG
  // X_ blocks agree with the 32-bit ones (ACPICA warns on mismatch).
  auto gas = [&](size_t off) { return std::make_tuple(fadt[off], fadt[off + 1], le(fadt, off + 4, 8)); };
  EXPECT_EQ(gas(148), std::make_tuple(uint8_t{1}, uint8_t{32}, uint64_t{layout::kPortAcpiPm1aEvt}));
  EXPECT_EQ(gas(172), std::make_tuple(uint8_t{1}, uint8_t{16}, uint64_t{layout::kPortAcpiPm1aCnt}));
  EXPECT_EQ(gas(208), std::make_tuple(uint8_t{1}, uint8_t{32}, uint64_t{layout::kPortAcpiPmTimer}));
  EXPECT_EQ(le(fadt, 140, 8), 0xe0100u);
}

TEST(Acpi, HpetTableDescribesTheTimerBlock) {
  const Bytes hpet = build_hpet();
  EXPECT_EQ(sig(hpet), "HPET");
  EXPECT_EQ(hpet.size(), 56u);
  EXPECT_EQ(hpet[8], 1);  // revision
  EXPECT_EQ(sum(hpet), 0);
  EXPECT_EQ(le(hpet, 36, 4), 0x8086a201u);  // vendor 8086, legacy capable, 64-bit, 3 timers, rev 1
  EXPECT_EQ(hpet[40], 0);                   // GAS: system memory
  EXPECT_EQ(le(hpet, 44, 8), 0xfed00000u);
  EXPECT_EQ(hpet[52], 0);  // HPET number
}

TEST(Acpi, McfgDescribesTheEcam) {
  const Bytes mcfg = build_mcfg();
  EXPECT_EQ(sig(mcfg), "MCFG");
  EXPECT_EQ(mcfg.size(), 60u);
  EXPECT_EQ(sum(mcfg), 0);
  EXPECT_EQ(le(mcfg, 44, 8), layout::kPciEcamStart);
  EXPECT_EQ(le(mcfg, 52, 2), 0u);  // segment
  EXPECT_EQ(mcfg[54], 0);          // first bus
  EXPECT_EQ(mcfg[55], 255);        // last bus
}

TEST(Acpi, RefusesBadVcpuCounts) {
  GuestMemory mem(GuestMemory::x86_layout(64 * layout::kMiB));
  auto r = write_acpi_tables(mem, {.num_vcpus = 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "ACPI tables support 1..255 vCPUs, not 0");
  EXPECT_FALSE(write_acpi_tables(mem, {.num_vcpus = 256}).ok());
}

TEST(Acpi, RefusesMemoryWithoutTheBiosArea) {
  GuestMemory mem({{layout::kHighMemStart, 16 * layout::kMiB}});
  auto r = write_acpi_tables(mem, {.num_vcpus = 1});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("ACPI area"), std::string::npos) << r.error();
}

TEST(Acpi, WithoutCom1) {
  const Bytes dsdt = build_dsdt({.num_vcpus = 1, .com1 = false});
  AmlReader aml(dsdt);
  ASSERT_NO_THROW(aml.parse_table());
  EXPECT_FALSE(aml.devices.count("\\_SB_.COM1"));
  EXPECT_TRUE(aml.devices.count("\\_SB_.PCI0"));
}

TEST(Acpi, ChecksumByte) {
  EXPECT_EQ(acpi_checksum(Bytes{}), 0);
  EXPECT_EQ(acpi_checksum(Bytes{1, 2, 3}), 0xfa);
  EXPECT_EQ(acpi_checksum(Bytes{0x80, 0x80}), 0);
}

}  // namespace
}  // namespace wren
