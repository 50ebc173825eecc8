// The DSDT: the PCI host bridge (bus range, I/O and MMIO windows, legacy INTx
// routing), the HPET, COM1, one processor device per vCPU, and the \_S5 sleep type
// used to power off through PM1a_CNT.
#include <cstdio>
#include <stdexcept>

#include "devices/platform/hpet.h"
#include "hypervisor/layout.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/acpi_table.h"
#include "vmm/boot/aml.h"

namespace wren {

namespace {

constexpr uint8_t kDsdtRevision = 2;  // 64-bit AML integers
constexpr uint32_t kPciSlots = 32;
constexpr uint32_t kIntxPins = 4;
constexpr uint64_t kSlpTypS5 = 5;  // SLP_TYP the PM1a_CNT device treats as power off

aml::Bytes pci_routing_table() {
  // {slot << 16 | 0xffff (any function), pin (0 = INTA), source 0 (so the
  // last field is a GSI), GSI}: slot s pin p -> first GSI + (s + p) % 4.
  std::vector<aml::Bytes> entries;
  for (uint32_t slot = 0; slot < kPciSlots; ++slot) {
    for (uint32_t pin = 0; pin < kIntxPins; ++pin) {
      entries.push_back(aml::package({
          aml::integer((uint64_t{slot} << 16) | 0xffff),
          aml::integer(pin),
          aml::integer(0),
          aml::integer(layout::kPciIntxFirstGsi + (slot + pin) % kIntxPins),
      }));
    }
  }
  return aml::name("_PRT", aml::package(entries));
}

// No _ADR: the spec (and iasl) forbid a device having both _HID and _ADR;
// Linux identifies the root bridge by _HID, _SEG and _BBN.
aml::Bytes pci_host_bridge() {
  const uint16_t cfg_first = layout::kPortPciConfigAddr;
  const uint16_t cfg_last = static_cast<uint16_t>(layout::kPortPciConfigData + 3);
  const auto crs = aml::ResourceTemplate()
                       .word_bus_number(0, 0xff)
                       .io(cfg_first, cfg_first, 1, static_cast<uint8_t>(cfg_last - cfg_first + 1))
                       .word_io(0x0000, static_cast<uint16_t>(cfg_first - 1))
                       .word_io(static_cast<uint16_t>(cfg_last + 1), 0xffff)
                       .dword_memory(static_cast<uint32_t>(layout::kPciMmio32Start),
                                     static_cast<uint32_t>(layout::kPciMmio32End - 1))
                       .build();
  return aml::device("PCI0", {
                                 aml::name("_HID", aml::eisa_id("PNP0A08")),  // PCI Express root bridge
                                 aml::name("_CID", aml::eisa_id("PNP0A03")),  // PCI root bridge
                                 aml::name("_SEG", aml::integer(0)),
                                 aml::name("_UID", aml::integer(0)),
                                 aml::name("_BBN", aml::integer(0)),
                                 aml::name("_CRS", crs),
                                 pci_routing_table(),
                             });
}

aml::Bytes com1() {
  const auto crs = aml::ResourceTemplate()
                       .io(layout::kPortCom1, layout::kPortCom1, 1, 8)
                       .irq_no_flags(static_cast<uint8_t>(layout::kIrqCom1))
                       .build();
  return aml::device("COM1", {
                                 aml::name("_HID", aml::eisa_id("PNP0501")),  // 16550A UART
                                 aml::name("_UID", aml::integer(1)),
                                 aml::name("_CRS", crs),
                             });
}

// Motherboard resources: Linux only trusts the MCFG's ECAM window once it
// is also reserved here (or it falls back to port 0xCF8 and loses the
// extended config space).
aml::Bytes motherboard_resources() {
  const auto crs = aml::ResourceTemplate()
                       .dword_memory(static_cast<uint32_t>(layout::kPciEcamStart),
                                     static_cast<uint32_t>(layout::kPciEcamStart + layout::kPciEcamSize - 1))
                       .build();
  return aml::device("MRES", {
                                 aml::name("_HID", aml::eisa_id("PNP0C02")),
                                 aml::name("_UID", aml::integer(2)),
                                 aml::name("_CRS", crs),
                             });
}

// The HPET's register block (the HPET table describes the timer itself;
// this claims the MMIO range, as PC firmware does).
aml::Bytes hpet() {
  const auto crs = aml::ResourceTemplate()
                       .memory32_fixed(false, static_cast<uint32_t>(Hpet::kBase), static_cast<uint32_t>(Hpet::kLength))
                       .build();
  return aml::device("HPET", {
                                 aml::name("_HID", aml::eisa_id("PNP0103")),
                                 aml::name("_UID", aml::integer(0)),
                                 aml::name("_CRS", crs),
                             });
}

// Processor devices; _UID matches the MADT's ACPI processor UID.
aml::Bytes processor(uint32_t index) {
  char name[16];
  std::snprintf(name, sizeof(name), "C%03X", index & 0xfffu);
  return aml::device(name, {
                               aml::name("_HID", aml::string("ACPI0007")),
                               aml::name("_UID", aml::integer(index)),
                           });
}

}  // namespace

std::vector<uint8_t> build_dsdt(const AcpiConfig& config) {
  if (config.num_vcpus == 0 || config.num_vcpus > kMaxAcpiVcpus)
    throw std::invalid_argument("DSDT vCPU count out of range");
  std::vector<aml::Bytes> sb = {pci_host_bridge(), motherboard_resources(), hpet()};
  if (config.com1) sb.push_back(com1());
  for (uint32_t i = 0; i < config.num_vcpus; ++i) sb.push_back(processor(i));

  AcpiTableWriter t("DSDT", kDsdtRevision);
  t.bytes(aml::scope("\\_SB_", sb));
  // \_S5: SLP_TYPa, SLP_TYPb, two reserved values.
  t.bytes(aml::name(
      "_S5_", aml::package({aml::integer(kSlpTypS5), aml::integer(kSlpTypS5), aml::integer(0), aml::integer(0)})));
  return std::move(t).finish();
}

}  // namespace wren
