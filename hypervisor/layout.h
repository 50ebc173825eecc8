#pragma once
// The guest physical address map of the Wren x86 machine. One place, so the
// loaders, ACPI tables, PCI and the memory builder can never disagree.
#include <cstdint>

namespace wren::layout {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;
inline constexpr uint64_t kPageSize = 4096;

// Low memory used by the direct Linux boot path.
inline constexpr uint64_t kGdtAddr = 0x500;
inline constexpr uint64_t kIdtAddr = 0x520;
inline constexpr uint64_t kPml4Addr = 0x9000;  // identity page tables for 64-bit entry
inline constexpr uint64_t kPdptAddr = 0xA000;
inline constexpr uint64_t kPdAddr = 0xB000;  // 4 pages: 4 GiB of 2 MiB pages
inline constexpr uint64_t kBootStackTop = 0x8ff0;
inline constexpr uint64_t kZeroPageAddr = 0x7000;
inline constexpr uint64_t kCmdlineAddr = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;  // 64 KiB area reserved for the command line
inline constexpr uint64_t kMptableAddr = 0x9fc00;
inline constexpr uint64_t kEbdaStart = 0x9fc00;  // top of usable low RAM
// Multiboot: the information structure, memory map, module list and strings.
inline constexpr uint64_t kMultibootInfoAddr = 0x10000;
inline constexpr uint64_t kMultibootInfoEnd = kEbdaStart;
inline constexpr uint64_t kBiosRomStart = 0xe0000;  // ACPI RSDP lives in here
inline constexpr uint64_t kRsdpAddr = 0xe0000;
inline constexpr uint64_t kAcpiTablesAddr = 0xe0100;  // tables follow the RSDP
inline constexpr uint64_t kAcpiTablesEnd = 0x100000;
inline constexpr uint64_t kHighMemStart = 0x100000;  // 1 MiB: kernel is loaded here
inline constexpr uint64_t kKernelLoadAddr = 0x100000;

// The 32-bit PCI hole. Guest RAM above kLowRamEnd moves to kHighRamStart.
inline constexpr uint64_t kLowRamEnd = 3 * kGiB;         // 0xC000_0000
inline constexpr uint64_t kPciMmio32Start = 0xC0000000;  // BARs are placed here
inline constexpr uint64_t kPciMmio32End = 0xE0000000;
inline constexpr uint64_t kPciEcamStart = 0xE0000000;  // MCFG: bus 0 only is populated
inline constexpr uint64_t kPciEcamSize = 0x10000000;   // 256 buses x 1 MiB
inline constexpr uint64_t kIoApicAddr = 0xFEC00000;
inline constexpr uint64_t kLapicAddr = 0xFEE00000;
inline constexpr uint64_t kHighRamStart = 4 * kGiB;

// Legacy port I/O.
inline constexpr uint16_t kPortCom1 = 0x3f8;
inline constexpr uint16_t kPortI8042Data = 0x60;
inline constexpr uint16_t kPortI8042Cmd = 0x64;
inline constexpr uint16_t kPortCmosIndex = 0x70;
inline constexpr uint16_t kPortPciConfigAddr = 0xcf8;
inline constexpr uint16_t kPortPciConfigData = 0xcfc;
inline constexpr uint16_t kPortAcpiPm1aEvt = 0x600;  // PM1a event block (4 bytes)
inline constexpr uint16_t kPortAcpiPm1aCnt = 0x604;  // PM1a control block (2 bytes)
inline constexpr uint16_t kPortAcpiPmTimer = 0x608;  // PM timer (4 bytes)
inline constexpr uint16_t kPciIoStart = 0xc000;      // legacy I/O BARs are placed here
inline constexpr uint16_t kPciIoEnd = 0xffff;

// IRQ lines (IOAPIC GSIs).
inline constexpr uint32_t kIrqCom1 = 4;
inline constexpr uint32_t kIrqAcpiSci = 9;
inline constexpr uint32_t kPciIntxFirstGsi = 16;  // INTA..INTD of slot s -> 16 + ((s + pin) % 4)
inline constexpr uint32_t kNumIoApicPins = 24;

}  // namespace wren::layout
