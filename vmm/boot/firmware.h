#pragma once
// Firmware boot (`--firmware PATH`): a legacy BIOS image such as SeaBIOS runs
// from the x86 reset vector and boots the guest itself, the way QEMU boots a
// PC. The VMM's part, as on a QEMU PC:
//
//  - the image is mapped read-only at the top of the 4 GiB space (where the
//    reset vector 0xFFFFFFF0 lands) and its last 128 KiB is copied into RAM
//    at 0xE0000-0xFFFFF, the legacy BIOS window, which the BIOS then uses
//    as its (already writable, "shadowed") code and data segment;
//  - a fw_cfg device carries the memory map (etc/e820), the ACPI tables with
//    the table-loader commands that place them (etc/acpi/tables,
//    etc/acpi/rsdp, etc/table-loader), the CPU count, the serial console
//    port (etc/sercon-port, so SeaBIOS and what it boots print on COM1) and,
//    with --kernel, a Linux boot protocol image split into setup and kernel
//    parts plus initrd and command line, booted by QEMU's linuxboot_dma
//    option ROM (genroms/linuxboot_dma.bin) as QEMU's -kernel does;
//  - vCPU 0 starts at the reset vector in real mode (CS base 0xFFFF0000,
//    IP 0xFFF0).
//
// Everything here but FirmwareBoot works without KVM (unit-tested so).
#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/kvm.h"
#include "hypervisor/mapping.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/result.h"

namespace wren {

class FwCfg;

inline constexpr uint64_t kFirmwareAlign = 64 * 1024;
// Up to 256 KiB, which ends where the KVM TSS pages below 4 GiB begin.
inline constexpr uint64_t kFirmwareMaxBytes = 256 * 1024;
inline constexpr uint64_t kLegacyBiosWindowEnd = 0x100000;
inline constexpr uint64_t kLegacyBiosWindowBytes = 128 * 1024;  // 0xE0000-0xFFFFF
// Where Debian's qemu-system-data installs QEMU's kernel-loading option ROM.
inline constexpr const char* kDefaultLinuxBootRom = "/usr/share/qemu/linuxboot_dma.bin";

// Refuses an empty image, one whose size is not a multiple of 64 KiB or is
// above kFirmwareMaxBytes.
[[nodiscard]] Status validate_firmware(std::span<const uint8_t> image);

// Guest-physical address of the first byte of a mapped image of `size` bytes.
inline uint64_t firmware_base(uint64_t size) { return (uint64_t{1} << 32) - size; }

// Copies the last min(size, 128 KiB) bytes of `image` to just below 1 MiB.
[[nodiscard]] Status write_legacy_bios_window(GuestMemory& mem, std::span<const uint8_t> image);

// etc/e820 for the firmware: each RAM region as RAM, the PCI ECAM window
// reserved (Linux checks that before using MCFG). The firmware adds its own
// reservations (EBDA, BIOS segments, its tables) to what the OS sees.
std::vector<E820Entry> firmware_e820(const std::vector<MemoryRegion>& regions);
// The e820 entries in fw_cfg's format: {le64 address, le64 length, le32 type}.
std::vector<uint8_t> encode_fw_cfg_e820(const std::vector<E820Entry>& entries);

// A Linux boot-protocol image prepared for fw_cfg loading (QEMU's -kernel):
// the setup sectors with the loader fields of the header filled in, the
// protected-mode kernel, the command line (NUL-terminated) and initrd, and
// where the option ROM copies each.
struct FwCfgLinux {
  uint32_t setup_addr = 0;
  uint32_t kernel_addr = 0;
  uint32_t cmdline_addr = 0;
  uint32_t initrd_addr = 0;  // the ROM moves it below the top of RAM if needed
  std::vector<uint8_t> setup;
  std::vector<uint8_t> kernel;
  std::vector<uint8_t> cmdline;
  std::vector<uint8_t> initrd;
};
// `ram_top`: end of the RAM region at 1 MiB (low_ram_top()); the initrd
// stays 1 MiB below it, clear of the firmware's own tables. Refuses what
// load_bzimage refuses (bad header, command line too long, kernel or initrd
// not fitting) and setup code that would run into the command line.
[[nodiscard]] Result<FwCfgLinux> prepare_fw_cfg_linux(std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                                                      std::string_view cmdline, uint64_t ram_top);

// The ACPI tables as fw_cfg files and the loader commands that allocate them,
// link their address fields and fix their checksums.
struct AcpiLoaderFiles {
  std::vector<uint8_t> tables;  // etc/acpi/tables: every table but the RSDP
  std::vector<uint8_t> rsdp;    // etc/acpi/rsdp
  std::vector<uint8_t> loader;  // etc/table-loader
};
inline constexpr const char* kAcpiTablesFile = "etc/acpi/tables";
inline constexpr const char* kAcpiRsdpFile = "etc/acpi/rsdp";
inline constexpr const char* kTableLoaderFile = "etc/table-loader";
[[nodiscard]] Result<AcpiLoaderFiles> build_acpi_loader_files(const AcpiConfig& config);

// What the machine asks the firmware to boot.
struct FirmwareSetup {
  uint32_t cpus = 1;
  std::vector<MemoryRegion> ram;
  std::optional<uint16_t> serial_console_port;  // etc/sercon-port
  std::optional<FwCfgLinux> linux_image;
  std::vector<uint8_t> linux_boot_rom;  // with linux_image: the option ROM that boots it
};
// Fills `fw_cfg` with every item and file for `setup`.
[[nodiscard]] Status populate_fw_cfg(FwCfg& fw_cfg, const FirmwareSetup& setup);

// The x86 reset state of the boot vCPU: real mode, CS selector 0xF000 with
// base 0xFFFF0000, IP 0xFFF0, flat 64 KiB data segments, CR0 = 0x60000010.
kvm_sregs reset_vector_sregs(const kvm_sregs& current);
kvm_regs reset_vector_regs();

// The running pieces of a firmware boot: the image's read-only memory slot
// and the fw_cfg (and debug console) ports. Throws std::runtime_error with a
// readable message on any bad input file.
class FirmwareBoot {
 public:
  struct Options {
    std::string firmware_path;
    std::string kernel_path;  // empty: the firmware boots what it finds
    std::string initrd_path;
    std::string cmdline;
    std::string linux_boot_rom_path = kDefaultLinuxBootRom;
    uint32_t cpus = 1;
    std::optional<uint16_t> serial_console_port;
  };
  // `rom_slot` is a KVM memory slot number not used by guest RAM.
  FirmwareBoot(Vm& vm, uint32_t rom_slot, GuestMemory& memory, IoBus& pio, const Options& options);
  ~FirmwareBoot();

  bool rom_read_only() const { return rom_read_only_; }

 private:
  Vm& vm_;
  const uint32_t rom_slot_;
  Mapping rom_;
  bool rom_mapped_ = false;
  bool rom_read_only_ = false;
  std::shared_ptr<FwCfg> fw_cfg_;
  std::shared_ptr<BusDevice> debug_console_;
};

}  // namespace wren
