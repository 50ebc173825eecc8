#pragma once
// ACPI tables describing the Wren x86 machine to the guest: RSDP, XSDT, FADT
// (with FACS and DSDT), MADT, MCFG and HPET, written into the BIOS area at
// layout::kRsdpAddr / layout::kAcpiTablesAddr where Linux's RSDP scan finds them.
#include <cstdint>
#include <span>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "vmm/boot/result.h"

namespace wren {

// xAPIC ids 0..254 (255 is the broadcast id); more needs x2APIC entries.
inline constexpr uint32_t kMaxAcpiVcpus = 255;

struct AcpiConfig {
  uint32_t num_vcpus = 1;  // APIC id of vCPU i is i
  bool com1 = true;        // describe the 16550 at layout::kPortCom1 / kIrqCom1
};

// Where each table landed.
struct AcpiTables {
  uint64_t rsdp = 0;
  uint64_t xsdt = 0;
  uint64_t fadt = 0;
  uint64_t facs = 0;
  uint64_t dsdt = 0;
  uint64_t madt = 0;
  uint64_t mcfg = 0;
  uint64_t hpet = 0;
  uint64_t end = 0;  // first byte after the last table
};

// The tables other than the RSDP, laid out from `base` (64-byte aligned)
// with every address field pointing into the same image: `bytes` starts at
// `base`, `at.rsdp` is unset. With base 0 the address fields hold offsets,
// which is what a firmware table loader patches.
struct AcpiImage {
  AcpiTables at;
  std::vector<uint8_t> bytes;
};
[[nodiscard]] Result<AcpiImage> build_acpi_image(const AcpiConfig& config, uint64_t base);

// Clears the BIOS area window and writes all tables; refuses a vCPU count
// outside 1..kMaxAcpiVcpus and tables that would not fit below
// layout::kAcpiTablesEnd.
[[nodiscard]] Result<AcpiTables> write_acpi_tables(GuestMemory& mem, const AcpiConfig& config);

// The individual tables, complete with header and checksum (exposed for tests).
std::vector<uint8_t> build_rsdp(uint64_t xsdt_gpa);
std::vector<uint8_t> build_xsdt(const std::vector<uint64_t>& table_gpas);
std::vector<uint8_t> build_fadt(uint64_t facs_gpa, uint64_t dsdt_gpa);
std::vector<uint8_t> build_facs();
std::vector<uint8_t> build_madt(uint32_t num_vcpus);
std::vector<uint8_t> build_mcfg();
std::vector<uint8_t> build_hpet();
std::vector<uint8_t> build_dsdt(const AcpiConfig& config);

// The byte that makes `bytes` sum to zero when stored in its checksum field
// (which must be zero in `bytes`).
uint8_t acpi_checksum(std::span<const uint8_t> bytes);

}  // namespace wren
