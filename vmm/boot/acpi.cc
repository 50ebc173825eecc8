#include "vmm/boot/acpi.h"

#include <array>
#include <cstring>
#include <string>

#include "devices/platform/hpet.h"
#include "hypervisor/layout.h"
#include "vmm/boot/acpi_table.h"
#include "vmm/boot/hex.h"

namespace wren {

namespace {

// FADT (ACPI 6.x, 5.2.9), revision 6: 276 bytes.
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorRevision = 0;
constexpr uint8_t kPm1EvtLen = 4;
constexpr uint8_t kPm1CntLen = 2;
constexpr uint8_t kPmTmrLen = 4;
constexpr uint16_t kC2LatencyNone = 101;   // > 100: C2 not supported
constexpr uint16_t kC3LatencyNone = 1001;  // > 1000: C3 not supported
// IA-PC boot architecture flags.
constexpr uint16_t kBootArch8042 = 1u << 1;
constexpr uint16_t kBootArchNoVga = 1u << 2;
// Fixed feature flags. Not hardware-reduced: the PM1a blocks and PM timer
// are real ports. A fixed power button (PWR_BUTTON clear: QMP system_powerdown
// presses it), no sleep button, no RTC wake, 24-bit timer, no reset register
// (Linux resets through the i8042).
constexpr uint32_t kFadtWbinvd = 1u << 0;
constexpr uint32_t kFadtProcC1 = 1u << 2;
constexpr uint32_t kFadtSlpButton = 1u << 5;
constexpr uint32_t kFadtFixRtc = 1u << 6;

// FACS (5.2.10): 64 bytes, 64-byte aligned, no checksum.
constexpr uint32_t kFacsSize = 64;
constexpr uint8_t kFacsVersion = 2;
constexpr uint64_t kFacsAlign = 64;

// MADT (5.2.12).
constexpr uint8_t kMadtRevision = 5;
constexpr uint32_t kMadtPcatCompat = 1u << 0;
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtIoApic = 1;
constexpr uint8_t kMadtSourceOverride = 2;
constexpr uint8_t kMadtLocalApicNmi = 4;
constexpr uint32_t kLocalApicEnabled = 1u << 0;
constexpr uint8_t kIoApicId = 0;  // KVM's IOAPIC id register resets to 0
constexpr uint16_t kMpsConforming = 0x0;
constexpr uint16_t kMpsActiveHighLevel = 0x1 | (0x3 << 2);
constexpr uint8_t kAllProcessors = 0xff;
constexpr uint8_t kLint1 = 1;

// MCFG (PCI Firmware spec 4.1.2).
constexpr uint8_t kMcfgRevision = 1;

// HPET (IA-PC HPET specification 1.0a, 3.2.4).
constexpr uint8_t kHpetRevision = 1;
constexpr uint8_t kGasSystemMemory = 0;
constexpr uint8_t kHpetRegisterWidth = 64;

constexpr uint8_t kXsdtRevision = 1;
constexpr uint8_t kRsdpRevision = 2;
constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpSize = 36;
constexpr uint64_t kTableAlign = 16;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

uint8_t acpi_checksum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return static_cast<uint8_t>(0x100 - sum);
}

std::vector<uint8_t> build_rsdp(uint64_t xsdt_gpa) {
  // 0 signature, 8 checksum (first 20 bytes), 9 OEM id, 15 revision,
  // 16 RSDT address, 20 length, 24 XSDT address, 32 extended checksum.
  std::vector<uint8_t> r(kRsdpSize, 0);
  std::memcpy(&r[0], "RSD PTR ", 8);
  std::memcpy(&r[9], "WREN  ", 6);
  r[15] = kRsdpRevision;
  // RSDT address stays 0: revision 2 readers use the XSDT.
  const auto len = static_cast<uint32_t>(kRsdpSize);
  std::memcpy(&r[20], &len, 4);
  std::memcpy(&r[24], &xsdt_gpa, 8);
  r[8] = acpi_checksum(std::span(r).first(kRsdpV1Size));
  r[32] = acpi_checksum(r);
  return r;
}

std::vector<uint8_t> build_xsdt(const std::vector<uint64_t>& table_gpas) {
  AcpiTableWriter t("XSDT", kXsdtRevision);
  for (uint64_t gpa : table_gpas) t.u64(gpa);
  return std::move(t).finish();
}

std::vector<uint8_t> build_fadt(uint64_t facs_gpa, uint64_t dsdt_gpa) {
  AcpiTableWriter t("FACP", kFadtRevision);
  t.u32(static_cast<uint32_t>(facs_gpa));  // FIRMWARE_CTRL
  t.u32(static_cast<uint32_t>(dsdt_gpa));  // DSDT
  t.u8(0);                                 // reserved (ACPI 1.0 INT_MODEL)
  t.u8(0);                                 // preferred PM profile: unspecified
  t.u16(static_cast<uint16_t>(layout::kIrqAcpiSci));
  t.u32(0);                   // SMI_CMD 0: no SMM; the machine is always in ACPI mode
  t.u8(0).u8(0).u8(0).u8(0);  // ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
  t.u32(layout::kPortAcpiPm1aEvt);
  t.u32(0);  // PM1b_EVT_BLK
  t.u32(layout::kPortAcpiPm1aCnt);
  t.u32(0);  // PM1b_CNT_BLK
  t.u32(0);  // PM2_CNT_BLK
  t.u32(layout::kPortAcpiPmTimer);
  t.u32(0).u32(0);  // GPE0_BLK, GPE1_BLK
  t.u8(kPm1EvtLen).u8(kPm1CntLen).u8(0).u8(kPmTmrLen);
  t.u8(0).u8(0).u8(0);  // GPE0_BLK_LEN, GPE1_BLK_LEN, GPE1_BASE
  t.u8(0);              // CST_CNT
  t.u16(kC2LatencyNone).u16(kC3LatencyNone);
  t.u16(0).u16(0);      // FLUSH_SIZE, FLUSH_STRIDE
  t.u8(0).u8(0);        // DUTY_OFFSET, DUTY_WIDTH
  t.u8(0).u8(0).u8(0);  // DAY_ALRM, MON_ALRM, CENTURY
  t.u16(kBootArch8042 | kBootArchNoVga);
  t.u8(0);  // reserved
  t.u32(kFadtWbinvd | kFadtProcC1 | kFadtSlpButton | kFadtFixRtc);
  t.zeros(12);  // RESET_REG: none
  t.u8(0);      // RESET_VALUE
  t.u16(0);     // ARM_BOOT_ARCH
  t.u8(kFadtMinorRevision);
  t.u64(facs_gpa);  // X_FIRMWARE_CTRL (same as the 32-bit field, so ACPICA sees no mismatch)
  t.u64(dsdt_gpa);  // X_DSDT
  t.gas_io(layout::kPortAcpiPm1aEvt, kPm1EvtLen * 8);
  t.gas_io(0, 0);  // X_PM1b_EVT_BLK
  t.gas_io(layout::kPortAcpiPm1aCnt, kPm1CntLen * 8);
  t.gas_io(0, 0);  // X_PM1b_CNT_BLK
  t.gas_io(0, 0);  // X_PM2_CNT_BLK
  t.gas_io(layout::kPortAcpiPmTimer, kPmTmrLen * 8);
  t.gas_io(0, 0);  // X_GPE0_BLK
  t.gas_io(0, 0);  // X_GPE1_BLK
  t.gas_io(0, 0);  // SLEEP_CONTROL_REG (hardware-reduced only)
  t.gas_io(0, 0);  // SLEEP_STATUS_REG
  t.u64(0);        // hypervisor vendor identity
  return std::move(t).finish();
}

std::vector<uint8_t> build_facs() {
  std::vector<uint8_t> f(kFacsSize, 0);
  std::memcpy(f.data(), "FACS", 4);
  f[4] = static_cast<uint8_t>(kFacsSize);
  f[32] = kFacsVersion;
  return f;
}

std::vector<uint8_t> build_madt(uint32_t num_vcpus) {
  if (num_vcpus == 0 || num_vcpus > kMaxAcpiVcpus) throw std::invalid_argument("MADT vCPU count out of range");
  AcpiTableWriter t("APIC", kMadtRevision);
  t.u32(static_cast<uint32_t>(layout::kLapicAddr));
  t.u32(kMadtPcatCompat);  // dual 8259s present (KVM's irqchip has them)
  for (uint32_t i = 0; i < num_vcpus; ++i) {
    t.u8(kMadtLocalApic).u8(8);
    t.u8(static_cast<uint8_t>(i));  // ACPI processor UID (= the DSDT's _UID)
    t.u8(static_cast<uint8_t>(i));  // APIC id
    t.u32(kLocalApicEnabled);
  }
  t.u8(kMadtIoApic).u8(12).u8(kIoApicId).u8(0);
  t.u32(static_cast<uint32_t>(layout::kIoApicAddr));
  t.u32(0);  // GSI base
  // The PIT's IRQ0 is wired to IOAPIC pin 2.
  t.u8(kMadtSourceOverride).u8(10).u8(0).u8(0).u32(2).u16(kMpsConforming);
  // The SCI is level triggered, active high.
  t.u8(kMadtSourceOverride).u8(10).u8(0).u8(static_cast<uint8_t>(layout::kIrqAcpiSci));
  t.u32(layout::kIrqAcpiSci).u16(kMpsActiveHighLevel);
  // NMI arrives on LINT1 of every processor.
  t.u8(kMadtLocalApicNmi).u8(6).u8(kAllProcessors).u16(kMpsConforming).u8(kLint1);
  return std::move(t).finish();
}

std::vector<uint8_t> build_mcfg() {
  AcpiTableWriter t("MCFG", kMcfgRevision);
  t.zeros(8);  // reserved
  t.u64(layout::kPciEcamStart);
  t.u16(0);                                                      // PCI segment group
  t.u8(0);                                                       // first bus
  t.u8(static_cast<uint8_t>((layout::kPciEcamSize >> 20) - 1));  // last bus: 1 MiB of ECAM per bus
  t.u32(0);                                                      // reserved
  return std::move(t).finish();
}

std::vector<uint8_t> build_hpet() {
  AcpiTableWriter t("HPET", kHpetRevision);
  t.u32(static_cast<uint32_t>(Hpet::capabilities()));  // event timer block id
  // Base address: a Generic Address Structure in system memory.
  t.u8(kGasSystemMemory).u8(kHpetRegisterWidth).u8(0).u8(0).u64(Hpet::kBase);
  t.u8(0);   // HPET number
  t.u16(0);  // minimum periodic tick: no constraint
  t.u8(0);   // page protection: none (the block is alone in its 4 KiB page anyway)
  return std::move(t).finish();
}

Result<AcpiImage> build_acpi_image(const AcpiConfig& config, uint64_t base) {
  if (config.num_vcpus == 0 || config.num_vcpus > kMaxAcpiVcpus)
    return Error{"ACPI tables support 1.." + std::to_string(kMaxAcpiVcpus) + " vCPUs, not " +
                 std::to_string(config.num_vcpus)};
  if (base % kFacsAlign) return Error{"ACPI table base " + hex(base) + " is not 64-byte aligned"};

  // Lay the tables out first (the FADT and XSDT hold addresses of others).
  AcpiImage image;
  AcpiTables& at = image.at;
  uint64_t cursor = base;
  auto place = [&](size_t size, uint64_t align) {
    const uint64_t gpa = align_up(cursor, align);
    cursor = gpa + size;
    return gpa;
  };
  const auto dsdt = build_dsdt(config);
  const auto facs = build_facs();
  const auto madt = build_madt(config.num_vcpus);
  const auto mcfg = build_mcfg();
  const auto hpet = build_hpet();
  at.dsdt = place(dsdt.size(), kTableAlign);
  at.facs = place(facs.size(), kFacsAlign);
  const auto fadt = build_fadt(at.facs, at.dsdt);
  at.fadt = place(fadt.size(), kTableAlign);
  at.madt = place(madt.size(), kTableAlign);
  at.mcfg = place(mcfg.size(), kTableAlign);
  at.hpet = place(hpet.size(), kTableAlign);
  const auto xsdt = build_xsdt({at.fadt, at.madt, at.mcfg, at.hpet});
  at.xsdt = place(xsdt.size(), kTableAlign);
  at.end = cursor;

  image.bytes.assign(at.end - base, 0);
  for (const auto& [gpa, table] : {std::pair{at.dsdt, &dsdt},
                                   {at.facs, &facs},
                                   {at.fadt, &fadt},
                                   {at.madt, &madt},
                                   {at.mcfg, &mcfg},
                                   {at.hpet, &hpet},
                                   {at.xsdt, &xsdt}})
    std::memcpy(image.bytes.data() + (gpa - base), table->data(), table->size());
  return image;
}

Result<AcpiTables> write_acpi_tables(GuestMemory& mem, const AcpiConfig& config) {
  auto built = build_acpi_image(config, layout::kAcpiTablesAddr);
  if (!built) return Error{built.error()};
  AcpiTables at = built->at;
  at.rsdp = layout::kRsdpAddr;
  // Check the whole set fits before touching guest memory.
  if (at.end > layout::kAcpiTablesEnd)
    return Error{"ACPI tables need " + std::to_string(at.end - layout::kAcpiTablesAddr) + " bytes but only " +
                 std::to_string(layout::kAcpiTablesEnd - layout::kAcpiTablesAddr) + " fit below " +
                 hex(layout::kAcpiTablesEnd)};
  const auto rsdp = build_rsdp(at.xsdt);
  static_assert(layout::kRsdpAddr + kRsdpSize <= layout::kAcpiTablesAddr);

  if (!mem.fill(layout::kRsdpAddr, 0, layout::kAcpiTablesEnd - layout::kRsdpAddr))
    return Error{"guest RAM does not cover the ACPI area " + hex(layout::kRsdpAddr) + ".." +
                 hex(layout::kAcpiTablesEnd)};
  if (!mem.write(at.rsdp, rsdp) || !mem.write(layout::kAcpiTablesAddr, built->bytes))
    return Error{"guest RAM does not cover the ACPI tables"};
  return at;
}

}  // namespace wren
