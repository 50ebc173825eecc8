#include "vmm/boot/firmware.h"

#include <asm/bootparam.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "devices/platform/debug_console.h"
#include "devices/platform/fw_cfg.h"
#include "hypervisor/layout.h"
#include "hypervisor/little_endian.h"
#include "vmm/boot/boot_file.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/hex.h"
#include "vmm/boot/table_loader.h"

namespace wren {

namespace {

// Where the option ROM puts the pieces of a -kernel image (QEMU's choice for
// boot protocol 2.02+ with LOADED_HIGH).
constexpr uint32_t kSetupAddr = 0x10000;
constexpr uint32_t kCmdlineAddr = 0x20000;
constexpr uint32_t kKernelAddr = static_cast<uint32_t>(layout::kKernelLoadAddr);
constexpr uint8_t kLoaderUndefined = 0xff;
// Kept free for the firmware's own tables at the top of low RAM when placing
// the initrd (SeaBIOS takes 256 KiB there); the option ROM moves the initrd
// below what the BIOS reports as usable whenever it would end elsewhere than
// at the kernel's initrd_addr_max page.
constexpr uint64_t kFirmwareHighReserve = layout::kMiB;

constexpr size_t kE820EntrySize = 20;  // le64 address, le64 length, le32 type

// FADT fields holding table addresses (ACPI 6.x, 5.2.9).
constexpr uint32_t kFadtFirmwareCtrl = 36;
constexpr uint32_t kFadtDsdt = 40;
constexpr uint32_t kFadtXFirmwareCtrl = 132;
constexpr uint32_t kFadtXDsdt = 140;
constexpr uint32_t kAcpiHeaderSize = 36;
constexpr uint32_t kAcpiLengthOffset = 4;
constexpr uint32_t kAcpiChecksumOffset = 9;
// RSDP (5.2.5.3).
constexpr uint32_t kRsdpChecksumOffset = 8;
constexpr uint32_t kRsdpV1Length = 20;
constexpr uint32_t kRsdpXsdtOffset = 24;
constexpr uint32_t kRsdpExtChecksumOffset = 32;
constexpr uint32_t kRsdpLength = 36;
constexpr uint32_t kRsdpAlign = 16;
constexpr uint32_t kTablesAlign = 64;  // the FACS needs 64

constexpr const char* kLinuxBootRomFile = "genroms/linuxboot_dma.bin";
constexpr uint16_t kOptionRomSignature = 0xaa55;
// x86 reset state (Intel SDM vol. 3, 9.1.1).
constexpr uint64_t kResetCr0 = 0x60000010;  // CD, NW, ET
constexpr uint16_t kResetCsSelector = 0xf000;
constexpr uint64_t kResetCsBase = 0xffff0000;
constexpr uint64_t kResetIp = 0xfff0;
constexpr uint32_t kRealModeLimit = 0xffff;

std::vector<uint8_t> le_bytes(uint64_t value, size_t size) {
  std::vector<uint8_t> out(size);
  store_le(out, value);
  return out;
}

uint32_t table_length(const std::vector<uint8_t>& image, uint64_t at) {
  return static_cast<uint32_t>(load_le(std::span(image).subspan(at + kAcpiLengthOffset, 4)));
}

kvm_segment real_mode_segment(uint16_t selector, uint64_t base, uint8_t type) {
  kvm_segment s{};
  s.selector = selector;
  s.base = base;
  s.limit = kRealModeLimit;
  s.type = type;
  s.present = 1;
  s.s = 1;
  return s;
}

}  // namespace

Status validate_firmware(std::span<const uint8_t> image) {
  if (image.empty()) return Error{"firmware image is empty"};
  if (image.size() % kFirmwareAlign)
    return Error{"firmware image is " + std::to_string(image.size()) + " bytes, not a multiple of 64 KiB"};
  if (image.size() > kFirmwareMaxBytes)
    return Error{"firmware image is " + std::to_string(image.size()) + " bytes; at most " +
                 std::to_string(kFirmwareMaxBytes / 1024) + " KiB fit below 4 GiB"};
  return Ok{};
}

Status write_legacy_bios_window(GuestMemory& mem, std::span<const uint8_t> image) {
  const size_t n = std::min<size_t>(image.size(), kLegacyBiosWindowBytes);
  if (!mem.write(kLegacyBiosWindowEnd - n, image.last(n)))
    return Error{"guest RAM does not cover the legacy BIOS window " + hex(kLegacyBiosWindowEnd - n) + ".." +
                 hex(kLegacyBiosWindowEnd)};
  return Ok{};
}

std::vector<E820Entry> firmware_e820(const std::vector<MemoryRegion>& regions) {
  std::vector<E820Entry> out;
  for (const auto& r : regions) out.push_back({r.gpa, r.size, E820Type::kRam});
  out.push_back({layout::kPciEcamStart, layout::kPciEcamSize, E820Type::kReserved});
  std::sort(out.begin(), out.end(), [](const E820Entry& a, const E820Entry& b) { return a.addr < b.addr; });
  return out;
}

std::vector<uint8_t> encode_fw_cfg_e820(const std::vector<E820Entry>& entries) {
  std::vector<uint8_t> out(entries.size() * kE820EntrySize);
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::span e(out.data() + i * kE820EntrySize, kE820EntrySize);
    store_le(e.subspan(0, 8), entries[i].addr);
    store_le(e.subspan(8, 8), entries[i].size);
    store_le(e.subspan(16, 4), static_cast<uint32_t>(entries[i].type));
  }
  return out;
}

Result<FwCfgLinux> prepare_fw_cfg_linux(std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                                        std::string_view cmdline, uint64_t ram_top) {
  if (!has_bzimage_magic(kernel))
    return Error{
        "with --firmware the kernel must be a Linux boot-protocol image (a bzImage, or e.g. ipxe.lkrn); "
        "boot a multiboot kernel without --firmware"};
  auto parsed = parse_bzimage(kernel);
  if (!parsed) return Error{parsed.error()};
  const BzImageInfo& info = parsed.value();
  if (info.setup_bytes > kCmdlineAddr - kSetupAddr)
    return Error{"kernel setup code of " + std::to_string(info.setup_bytes) +
                 " bytes does not fit below the command line"};
  const uint64_t initrd_limit = ram_top > kFirmwareHighReserve ? ram_top - kFirmwareHighReserve : 0;
  auto placed = place_kernel(info, cmdline, initrd.size(), ram_top, initrd_limit);
  if (!placed) return Error{placed.error()};

  FwCfgLinux out;
  out.setup_addr = kSetupAddr;
  out.kernel_addr = kKernelAddr;
  out.cmdline_addr = kCmdlineAddr;
  out.initrd_addr = static_cast<uint32_t>(placed->initrd_gpa);
  out.initrd.assign(initrd.begin(), initrd.end());

  // The setup sectors carry the header the kernel reads; fill in what a
  // boot loader must (Documentation/arch/x86/boot.rst, "loader fields").
  out.setup.assign(kernel.begin(), kernel.begin() + info.setup_bytes);
  setup_header hdr;
  std::memcpy(&hdr, out.setup.data() + offsetof(boot_params, hdr), sizeof(hdr));
  hdr.type_of_loader = kLoaderUndefined;
  hdr.loadflags |= CAN_USE_HEAP;
  hdr.heap_end_ptr = static_cast<uint16_t>(kCmdlineAddr - kSetupAddr - 0x200);
  hdr.cmd_line_ptr = kCmdlineAddr;
  hdr.ramdisk_image = out.initrd_addr;
  hdr.ramdisk_size = static_cast<uint32_t>(out.initrd.size());
  std::memcpy(out.setup.data() + offsetof(boot_params, hdr), &hdr, sizeof(hdr));

  out.kernel.assign(kernel.begin() + info.setup_bytes, kernel.end());
  out.cmdline.assign(cmdline.begin(), cmdline.end());
  out.cmdline.push_back(0);
  return out;
}

Result<AcpiLoaderFiles> build_acpi_loader_files(const AcpiConfig& config) {
  // Laid out from 0, every address field holds an offset into the file.
  auto built = build_acpi_image(config, 0);
  if (!built) return Error{built.error()};
  const AcpiTables& at = built->at;
  AcpiLoaderFiles out;
  out.tables = std::move(built.value().bytes);
  out.rsdp = build_rsdp(at.xsdt);

  TableLoader loader;
  loader.allocate(kAcpiRsdpFile, kRsdpAlign, TableLoader::Zone::kFSeg);
  loader.allocate(kAcpiTablesFile, kTablesAlign, TableLoader::Zone::kHigh);
  const auto fadt = static_cast<uint32_t>(at.fadt);
  loader.add_pointer(kAcpiTablesFile, kAcpiTablesFile, fadt + kFadtFirmwareCtrl, 4);
  loader.add_pointer(kAcpiTablesFile, kAcpiTablesFile, fadt + kFadtDsdt, 4);
  loader.add_pointer(kAcpiTablesFile, kAcpiTablesFile, fadt + kFadtXFirmwareCtrl, 8);
  loader.add_pointer(kAcpiTablesFile, kAcpiTablesFile, fadt + kFadtXDsdt, 8);
  const auto xsdt = static_cast<uint32_t>(at.xsdt);
  const uint32_t xsdt_entries = (table_length(out.tables, xsdt) - kAcpiHeaderSize) / 8;
  for (uint32_t i = 0; i < xsdt_entries; ++i)
    loader.add_pointer(kAcpiTablesFile, kAcpiTablesFile, xsdt + kAcpiHeaderSize + 8 * i, 8);
  loader.add_pointer(kAcpiRsdpFile, kAcpiTablesFile, kRsdpXsdtOffset, 8);
  // Checksums last, over the patched bytes. The FACS has none.
  for (uint64_t table : {at.dsdt, at.fadt, at.madt, at.mcfg, at.xsdt}) {
    const auto t = static_cast<uint32_t>(table);
    loader.add_checksum(kAcpiTablesFile, t + kAcpiChecksumOffset, t, table_length(out.tables, t));
  }
  loader.add_checksum(kAcpiRsdpFile, kRsdpChecksumOffset, 0, kRsdpV1Length);
  loader.add_checksum(kAcpiRsdpFile, kRsdpExtChecksumOffset, 0, kRsdpLength);
  out.loader = loader.bytes();
  return out;
}

Status populate_fw_cfg(FwCfg& fw_cfg, const FirmwareSetup& setup) {
  uint64_t ram_bytes = 0;
  for (const auto& r : setup.ram) ram_bytes += r.size;
  fw_cfg.set_item(fw_cfg::kRamSize, le_bytes(ram_bytes, 8));
  fw_cfg.set_item(fw_cfg::kNbCpus, le_bytes(setup.cpus, 2));
  fw_cfg.set_item(fw_cfg::kMaxCpus, le_bytes(setup.cpus, 2));
  // The in-kernel IOAPIC takes the PIT's IRQ0 on pin 2, as the MADT says.
  fw_cfg.set_item(fw_cfg::kIrq0Override, le_bytes(1, 4));
  fw_cfg.add_file("etc/boot-cpus", le_bytes(setup.cpus, 2));
  fw_cfg.add_file("etc/e820", encode_fw_cfg_e820(firmware_e820(setup.ram)));

  auto acpi = build_acpi_loader_files(AcpiConfig{setup.cpus, true});
  if (!acpi) return Error{"ACPI tables: " + acpi.error()};
  fw_cfg.add_file(kAcpiTablesFile, std::move(acpi.value().tables));
  fw_cfg.add_file(kAcpiRsdpFile, std::move(acpi.value().rsdp));
  fw_cfg.add_file(kTableLoaderFile, std::move(acpi.value().loader));

  if (setup.serial_console_port) fw_cfg.add_file("etc/sercon-port", le_bytes(*setup.serial_console_port, 2));

  if (const auto& linux_image = setup.linux_image) {
    const auto& rom = setup.linux_boot_rom;
    if (rom.size() < 3 || load_le(std::span(rom).first(2)) != kOptionRomSignature)
      return Error{"the Linux boot option ROM is not an option ROM (no 0x55 0xAA signature)"};
    auto add_blob = [&](uint16_t addr_key, uint32_t addr, uint16_t size_key, uint16_t data_key,
                        const std::vector<uint8_t>& data) {
      fw_cfg.set_item(addr_key, le_bytes(addr, 4));
      fw_cfg.set_item(size_key, le_bytes(data.size(), 4));
      fw_cfg.set_item(data_key, data);
    };
    add_blob(fw_cfg::kSetupAddr, linux_image->setup_addr, fw_cfg::kSetupSize, fw_cfg::kSetupData, linux_image->setup);
    add_blob(fw_cfg::kKernelAddr, linux_image->kernel_addr, fw_cfg::kKernelSize, fw_cfg::kKernelData,
             linux_image->kernel);
    add_blob(fw_cfg::kCmdlineAddr, linux_image->cmdline_addr, fw_cfg::kCmdlineSize, fw_cfg::kCmdlineData,
             linux_image->cmdline);
    if (!linux_image->initrd.empty())
      add_blob(fw_cfg::kInitrdAddr, linux_image->initrd_addr, fw_cfg::kInitrdSize, fw_cfg::kInitrdData,
               linux_image->initrd);
    fw_cfg.add_file(kLinuxBootRomFile, rom);
    // SeaBIOS boots the first entry it finds; without this a disk could win.
    const std::string order = std::string("/rom@") + kLinuxBootRomFile;
    std::vector<uint8_t> bootorder(order.begin(), order.end());
    bootorder.push_back(0);
    fw_cfg.add_file("bootorder", std::move(bootorder));
  }
  return Ok{};
}

kvm_sregs reset_vector_sregs(const kvm_sregs& current) {
  kvm_sregs s = current;
  constexpr uint8_t kCodeReadAccessed = 0xb, kDataWriteAccessed = 0x3, kLdt = 0x2, kTss16Busy = 0x3;
  s.cs = real_mode_segment(kResetCsSelector, kResetCsBase, kCodeReadAccessed);
  s.ds = s.es = s.fs = s.gs = s.ss = real_mode_segment(0, 0, kDataWriteAccessed);
  s.ldt = kvm_segment{};
  s.ldt.limit = kRealModeLimit;
  s.ldt.type = kLdt;
  s.ldt.present = 1;
  s.tr = kvm_segment{};
  s.tr.limit = kRealModeLimit;
  s.tr.type = kTss16Busy;
  s.tr.present = 1;
  s.gdt.base = s.idt.base = 0;
  s.gdt.limit = s.idt.limit = kRealModeLimit;
  s.cr0 = kResetCr0;
  s.cr2 = s.cr3 = s.cr4 = 0;
  s.efer = 0;
  return s;
}

kvm_regs reset_vector_regs() {
  kvm_regs r{};
  r.rip = kResetIp;
  r.rflags = 0x2;
  return r;
}

FirmwareBoot::FirmwareBoot(Vm& vm, uint32_t rom_slot, GuestMemory& memory, IoBus& pio, const Options& options)
    : vm_(vm), rom_slot_(rom_slot) {
  auto must = [](auto result, const std::string& what) {
    if (!result) throw std::runtime_error(what + ": " + result.error());
    return std::move(result).value();
  };
  const auto image = must(read_boot_file(options.firmware_path, "firmware"), "--firmware");
  must(validate_firmware(image), "--firmware '" + options.firmware_path + "'");

  FirmwareSetup setup;
  setup.cpus = options.cpus;
  setup.ram = memory.regions();
  setup.serial_console_port = options.serial_console_port;
  if (!options.kernel_path.empty()) {
    const auto kernel = must(read_boot_file(options.kernel_path, "kernel"), "kernel");
    std::vector<uint8_t> initrd;
    if (!options.initrd_path.empty()) initrd = must(read_boot_file(options.initrd_path, "initrd"), "initrd");
    setup.linux_image = must(prepare_fw_cfg_linux(kernel, initrd, options.cmdline, low_ram_top(setup.ram)),
                             "kernel '" + options.kernel_path + "'");
    auto rom = read_boot_file(options.linux_boot_rom_path, "Linux boot option ROM");
    if (!rom)
      throw std::runtime_error(
          "--firmware with --kernel needs QEMU's linuxboot_dma.bin option ROM (Debian package "
          "qemu-system-data): " +
          rom.error());
    setup.linux_boot_rom = std::move(rom).value();
  }

  must(write_legacy_bios_window(memory, image), "--firmware");

  fw_cfg_ = std::make_shared<FwCfg>(memory);
  must(populate_fw_cfg(*fw_cfg_, setup), "fw_cfg");
  debug_console_ = std::make_shared<DebugConsole>([](const std::string& line) { spdlog::debug("firmware: {}", line); });
  if (!pio.insert(FwCfg::kPortBase, FwCfg::kLength, fw_cfg_) ||
      !pio.insert(DebugConsole::kDefaultPort, 1, debug_console_))
    throw std::logic_error("fw_cfg or debug console ports overlap another device");
  // Last, so nothing can fail with the slot registered: the image at the
  // top of 4 GiB, read-only where KVM can trap writes to it (they then exit
  // as MMIO to nowhere and are dropped).
  rom_ = Mapping::anonymous(image.size());
  std::memcpy(rom_.data(), image.data(), image.size());
  rom_read_only_ = vm.check_extension(KVM_CAP_READONLY_MEM) > 0;
  kvm_userspace_memory_region region{};
  region.slot = rom_slot;
  region.flags = rom_read_only_ ? KVM_MEM_READONLY : 0;
  region.guest_phys_addr = firmware_base(image.size());
  region.memory_size = image.size();
  region.userspace_addr = reinterpret_cast<uint64_t>(rom_.data());
  if (vm.ioctl(KVM_SET_USER_MEMORY_REGION, &region) < 0)
    throw std::runtime_error(std::string("KVM_SET_USER_MEMORY_REGION (firmware): ") + std::strerror(errno));
  rom_mapped_ = true;
  if (!rom_read_only_) spdlog::warn("KVM lacks KVM_CAP_READONLY_MEM: the firmware image is mapped writable");
  spdlog::info("firmware: {} ({} KiB) at {}, {}", options.firmware_path, image.size() / 1024,
               hex(firmware_base(image.size())), options.kernel_path.empty() ? "no kernel" : "kernel via fw_cfg");
}

FirmwareBoot::~FirmwareBoot() {
  if (!rom_mapped_) return;
  kvm_userspace_memory_region region{};
  region.slot = rom_slot_;  // size 0 deletes the slot before its memory goes away
  (void)vm_.ioctl(KVM_SET_USER_MEMORY_REGION, &region);
}

}  // namespace wren
