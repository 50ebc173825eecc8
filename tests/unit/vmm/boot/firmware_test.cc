#include "vmm/boot/firmware.h"

#include <asm/bootparam.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "devices/platform/fw_cfg.h"
#include "hypervisor/layout.h"
#include "hypervisor/little_endian.h"
#include "unit/vmm/boot/fake_bzimage.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/table_loader.h"

namespace wren {
namespace {

constexpr uint64_t kRam = 256 * layout::kMiB;

uint64_t le(std::span<const uint8_t> b, size_t at, size_t n) { return load_le(b.subspan(at, n)); }

TEST(Firmware, ImageSizeMustBeWhole64KiBUpTo256KiB) {
  EXPECT_FALSE(validate_firmware({}));
  EXPECT_FALSE(validate_firmware(std::vector<uint8_t>(64 * 1024 + 512)));
  EXPECT_FALSE(validate_firmware(std::vector<uint8_t>(512 * 1024)));
  EXPECT_TRUE(validate_firmware(std::vector<uint8_t>(64 * 1024)));
  EXPECT_TRUE(validate_firmware(std::vector<uint8_t>(128 * 1024)));
  EXPECT_TRUE(validate_firmware(std::vector<uint8_t>(256 * 1024)));
  EXPECT_EQ(firmware_base(128 * 1024), 0xfffe0000u);
  EXPECT_EQ(firmware_base(256 * 1024), 0xfffc0000u);
}

TEST(Firmware, LegacyWindowHoldsTheImagesLast128KiB) {
  GuestMemory mem({{0, 2 * layout::kMiB}});
  const auto image = pattern(256 * 1024, 5);
  ASSERT_TRUE(write_legacy_bios_window(mem, image));
  std::vector<uint8_t> window(128 * 1024);
  ASSERT_TRUE(mem.read(0xe0000, window));
  EXPECT_TRUE(std::equal(window.begin(), window.end(), image.end() - 128 * 1024));
  // The reset vector's bytes are at the end of both copies.
  std::vector<uint8_t> last(16);
  ASSERT_TRUE(mem.read(0xffff0, last));
  EXPECT_TRUE(std::equal(last.begin(), last.end(), image.end() - 16));

  GuestMemory small({{0, 2 * layout::kMiB}});
  const auto image64 = pattern(64 * 1024, 9);
  ASSERT_TRUE(write_legacy_bios_window(small, image64));
  std::vector<uint8_t> seg(64 * 1024);
  ASSERT_TRUE(small.read(0xf0000, seg));
  EXPECT_EQ(seg, image64);
  std::vector<uint8_t> below(16, 1);
  ASSERT_TRUE(small.read(0xe0000, below));
  EXPECT_EQ(below, std::vector<uint8_t>(16, 0));

  GuestMemory tiny({{0, 512 * 1024}});
  EXPECT_FALSE(write_legacy_bios_window(tiny, image));
}

TEST(Firmware, E820HasEveryRamRegionAndTheEcamWindowIn20ByteEntries) {
  const auto e820 = firmware_e820({{0, 3 * layout::kGiB}, {layout::kHighRamStart, layout::kGiB}});
  ASSERT_EQ(e820.size(), 3u);
  EXPECT_EQ(e820[0], (E820Entry{0, 3 * layout::kGiB, E820Type::kRam}));
  EXPECT_EQ(e820[1], (E820Entry{layout::kPciEcamStart, layout::kPciEcamSize, E820Type::kReserved}));
  EXPECT_EQ(e820[2], (E820Entry{layout::kHighRamStart, layout::kGiB, E820Type::kRam}));
  const auto bytes = encode_fw_cfg_e820(e820);
  ASSERT_EQ(bytes.size(), 60u);
  EXPECT_EQ(le(bytes, 20, 8), layout::kPciEcamStart);
  EXPECT_EQ(le(bytes, 28, 8), layout::kPciEcamSize);
  EXPECT_EQ(le(bytes, 36, 4), 2u);
  EXPECT_EQ(le(bytes, 40, 8), layout::kHighRamStart);
}

TEST(Firmware, LinuxImageIsSplitAndItsHeaderFilledInForTheOptionRom) {
  const auto kernel = make_bzimage({});
  const auto initrd = pattern(100000, 3);
  auto prepared = prepare_fw_cfg_linux(kernel, initrd, "console=ttyS0", kRam);
  ASSERT_TRUE(prepared) << prepared.error();
  const FwCfgLinux& l = prepared.value();
  EXPECT_EQ(l.setup_addr, 0x10000u);
  EXPECT_EQ(l.kernel_addr, 0x100000u);
  EXPECT_EQ(l.cmdline_addr, 0x20000u);
  ASSERT_EQ(l.setup.size(), 5u * 512);
  EXPECT_TRUE(std::equal(l.kernel.begin(), l.kernel.end(), kernel.begin() + 5 * 512));
  EXPECT_EQ(l.kernel.size(), kernel.size() - 5 * 512);
  EXPECT_EQ(std::string(l.cmdline.begin(), l.cmdline.end()), std::string("console=ttyS0\0", 14));
  EXPECT_EQ(l.initrd, initrd);
  // Page aligned, below the firmware's reserve at the top of RAM, above the kernel.
  EXPECT_EQ(l.initrd_addr % layout::kPageSize, 0u);
  EXPECT_LE(l.initrd_addr + initrd.size(), kRam - layout::kMiB);
  EXPECT_GE(l.initrd_addr, 16 * layout::kMiB + 4 * layout::kMiB);

  setup_header hdr;
  std::memcpy(&hdr, l.setup.data() + 0x1f1, sizeof(hdr));
  EXPECT_EQ(hdr.type_of_loader, 0xff);
  EXPECT_TRUE(hdr.loadflags & CAN_USE_HEAP);
  EXPECT_TRUE(hdr.loadflags & LOADED_HIGH);
  EXPECT_EQ(hdr.heap_end_ptr, 0xfe00);
  EXPECT_EQ(hdr.cmd_line_ptr, 0x20000u);
  EXPECT_EQ(hdr.ramdisk_image, l.initrd_addr);
  EXPECT_EQ(hdr.ramdisk_size, initrd.size());
  // Everything outside the header is the kernel's own setup code.
  EXPECT_TRUE(std::equal(l.setup.begin(), l.setup.begin() + 0x1f1, kernel.begin()));
  EXPECT_TRUE(std::equal(l.setup.begin() + 0x1f1 + sizeof(hdr), l.setup.end(), kernel.begin() + 0x1f1 + sizeof(hdr)));
}

TEST(Firmware, LinuxImageWithoutInitrdHasNoInitrdFields) {
  auto prepared = prepare_fw_cfg_linux(make_bzimage({}), {}, "", kRam);
  ASSERT_TRUE(prepared) << prepared.error();
  EXPECT_EQ(prepared->initrd_addr, 0u);
  EXPECT_TRUE(prepared->initrd.empty());
  EXPECT_EQ(prepared->cmdline, std::vector<uint8_t>{0});
}

TEST(Firmware, LinuxImageRefusals) {
  auto no_hdrs = prepare_fw_cfg_linux(std::vector<uint8_t>(4096, 0), {}, "", kRam);  // e.g. a multiboot kernel
  ASSERT_FALSE(no_hdrs);
  EXPECT_NE(no_hdrs.error().find("Linux boot-protocol image"), std::string::npos) << no_hdrs.error();
  FakeKernelSpec short_cmdline;
  short_cmdline.cmdline_size = 4;
  EXPECT_FALSE(prepare_fw_cfg_linux(make_bzimage(short_cmdline), {}, "too long", kRam));
  EXPECT_FALSE(prepare_fw_cfg_linux(make_bzimage({}), {}, std::string("a\0b", 3), kRam));
  EXPECT_FALSE(prepare_fw_cfg_linux(make_bzimage({}), {}, "", 8 * layout::kMiB));  // kernel does not fit
  // 32 MiB of RAM: the kernel needs up to 20 MiB, the top 1 MiB is the firmware's.
  EXPECT_FALSE(prepare_fw_cfg_linux(make_bzimage({}), std::vector<uint8_t>(12 * layout::kMiB), "", 32 * layout::kMiB));
  EXPECT_TRUE(prepare_fw_cfg_linux(make_bzimage({}), std::vector<uint8_t>(10 * layout::kMiB), "", 32 * layout::kMiB));
  FakeKernelSpec big_setup;
  big_setup.setup_sects = 200;  // 100 KiB of setup would run into the command line
  EXPECT_FALSE(prepare_fw_cfg_linux(make_bzimage(big_setup), {}, "", kRam));
}

// Runs a table-loader command list the way SeaBIOS does, with each allocated
// file placed at the address `placement` gives.
std::map<std::string, std::vector<uint8_t>> run_table_loader(const std::vector<uint8_t>& commands,
                                                             std::map<std::string, std::vector<uint8_t>> files,
                                                             const std::map<std::string, uint64_t>& placement) {
  std::map<std::string, std::vector<uint8_t>> loaded;
  auto name_at = [&](size_t at) { return std::string(reinterpret_cast<const char*>(&commands[at])); };
  EXPECT_EQ(commands.size() % TableLoader::kEntrySize, 0u);
  for (size_t at = 0; at + TableLoader::kEntrySize <= commands.size(); at += TableLoader::kEntrySize) {
    const uint64_t command = le(commands, at, 4);
    if (command == 1) {
      const std::string file = name_at(at + 4);
      const uint64_t align = le(commands, at + 60, 4);
      EXPECT_TRUE(placement.contains(file));
      EXPECT_EQ(placement.at(file) % align, 0u) << file;
      const uint8_t zone = commands[at + 64];
      EXPECT_EQ(zone, file == kAcpiRsdpFile ? 2 : 1) << file;
      loaded[file] = files.at(file);
    } else if (command == 2) {
      auto& dest = loaded.at(name_at(at + 4));
      const uint64_t src = placement.at(name_at(at + 60));
      const uint64_t offset = le(commands, at + 116, 4);
      const uint8_t size = commands[at + 120];
      EXPECT_LE(offset + size, dest.size());
      uint64_t value = le(dest, offset, size) + src;
      std::memcpy(&dest[offset], &value, size);
    } else if (command == 3) {
      auto& file = loaded.at(name_at(at + 4));
      const uint64_t offset = le(commands, at + 60, 4), start = le(commands, at + 64, 4),
                     length = le(commands, at + 68, 4);
      EXPECT_LE(start + length, file.size());
      uint8_t sum = 0;
      for (uint64_t i = start; i < start + length; ++i) sum = static_cast<uint8_t>(sum + file[i]);
      file[offset] = static_cast<uint8_t>(file[offset] - sum);
    } else {
      ADD_FAILURE() << "unknown command " << command;
    }
  }
  return loaded;
}

TEST(Firmware, AcpiLoaderCommandsRebuildTheTablesWhereverTheFirmwarePutsThem) {
  const AcpiConfig config{2, true};
  auto files = build_acpi_loader_files(config);
  ASSERT_TRUE(files) << files.error();
  constexpr uint64_t kTablesAt = 0x0fffc000 - 0x4000;  // some 64-byte aligned high address
  constexpr uint64_t kRsdpAt = 0xf5a10;
  const auto loaded = run_table_loader(files->loader, {{kAcpiTablesFile, files->tables}, {kAcpiRsdpFile, files->rsdp}},
                                       {{kAcpiTablesFile, kTablesAt}, {kAcpiRsdpFile, kRsdpAt}});
  // Exactly the tables the direct-boot path would write at that address,
  // address fields and checksums included.
  auto expected = build_acpi_image(config, kTablesAt);
  ASSERT_TRUE(expected);
  EXPECT_EQ(loaded.at(kAcpiTablesFile), expected->bytes);
  EXPECT_EQ(loaded.at(kAcpiRsdpFile), build_rsdp(expected->at.xsdt));
}

TEST(Firmware, AcpiLoaderFilesPlacedAtZeroNeedNoPatching) {
  // With every file at 0 the pointers stay offsets and checksums stay valid:
  // a check that the loader patches nothing it should not.
  auto files = build_acpi_loader_files(AcpiConfig{1, true});
  ASSERT_TRUE(files);
  const auto loaded = run_table_loader(files->loader, {{kAcpiTablesFile, files->tables}, {kAcpiRsdpFile, files->rsdp}},
                                       {{kAcpiTablesFile, 0}, {kAcpiRsdpFile, 0}});
  EXPECT_EQ(loaded.at(kAcpiTablesFile), files->tables);
  EXPECT_EQ(loaded.at(kAcpiRsdpFile), files->rsdp);
}

class FirmwareFwCfgTest : public ::testing::Test {
 protected:
  GuestMemory mem{{{0, kRam}}};
  FwCfg dev{mem};

  std::vector<uint8_t> read(uint16_t key, size_t n) {
    std::array<uint8_t, 2> sel{static_cast<uint8_t>(key), static_cast<uint8_t>(key >> 8)};
    dev.write(FwCfg::kSelectorOffset, sel);
    std::vector<uint8_t> out(n);
    for (auto& b : out) {
      std::array<uint8_t, 1> one{};
      dev.read(FwCfg::kDataOffset, one);
      b = one[0];
    }
    return out;
  }
  std::vector<uint8_t> file(const char* name, size_t n) {
    const uint16_t sel = dev.file_selector(name);
    EXPECT_NE(sel, 0) << name;
    return read(sel, n);
  }
  uint64_t read_le(uint16_t key, size_t n) { return load_le(read(key, n)); }
};

TEST_F(FirmwareFwCfgTest, EverySelectorOfAPlainFirmwareBoot) {
  FirmwareSetup setup;
  setup.cpus = 3;
  setup.ram = mem.regions();
  setup.serial_console_port = 0x3f8;
  ASSERT_TRUE(populate_fw_cfg(dev, setup));
  EXPECT_EQ(read(fw_cfg::kSignature, 4), (std::vector<uint8_t>{'Q', 'E', 'M', 'U'}));
  EXPECT_EQ(read_le(fw_cfg::kId, 4), 3u);
  EXPECT_EQ(read_le(fw_cfg::kRamSize, 8), kRam);
  EXPECT_EQ(read_le(fw_cfg::kNbCpus, 2), 3u);
  EXPECT_EQ(read_le(fw_cfg::kMaxCpus, 2), 3u);
  EXPECT_EQ(read_le(fw_cfg::kIrq0Override, 4), 1u);
  EXPECT_EQ(load_le(file("etc/boot-cpus", 2)), 3u);
  EXPECT_EQ(load_le(file("etc/sercon-port", 2)), 0x3f8u);
  EXPECT_EQ(file("etc/e820", 40), encode_fw_cfg_e820(firmware_e820(mem.regions())));
  auto acpi = build_acpi_loader_files(AcpiConfig{3, true});
  ASSERT_TRUE(acpi);
  EXPECT_EQ(file(kAcpiTablesFile, acpi->tables.size()), acpi->tables);
  EXPECT_EQ(file(kAcpiRsdpFile, acpi->rsdp.size()), acpi->rsdp);
  EXPECT_EQ(file(kTableLoaderFile, acpi->loader.size()), acpi->loader);
  // No kernel: none of the -kernel items or the ROM that boots them.
  EXPECT_EQ(dev.file_selector("genroms/linuxboot_dma.bin"), 0);
  EXPECT_EQ(dev.file_selector("bootorder"), 0);
  EXPECT_EQ(read_le(fw_cfg::kKernelSize, 4), 0u);
  EXPECT_EQ(read_le(fw_cfg::kSetupSize, 4), 0u);
  // The directory lists exactly the files above, in name order.
  const auto dir = read(fw_cfg::kFileDir, 4);
  EXPECT_EQ(dir, (std::vector<uint8_t>{0, 0, 0, 6}));
}

TEST_F(FirmwareFwCfgTest, NoSerialConsoleMeansNoSerconPort) {
  FirmwareSetup setup;
  setup.ram = mem.regions();
  ASSERT_TRUE(populate_fw_cfg(dev, setup));
  EXPECT_EQ(dev.file_selector("etc/sercon-port"), 0);
}

TEST_F(FirmwareFwCfgTest, KernelItemsForTheLinuxBootOptionRom) {
  auto linux_image = prepare_fw_cfg_linux(make_bzimage({}), pattern(5000, 1), "quiet", kRam);
  ASSERT_TRUE(linux_image);
  FirmwareSetup setup;
  setup.ram = mem.regions();
  setup.linux_image = linux_image.value();
  setup.linux_boot_rom = {0x55, 0xaa, 3, 0xcb};
  ASSERT_TRUE(populate_fw_cfg(dev, setup));
  const FwCfgLinux& l = linux_image.value();
  EXPECT_EQ(read_le(fw_cfg::kSetupAddr, 4), l.setup_addr);
  EXPECT_EQ(read_le(fw_cfg::kSetupSize, 4), l.setup.size());
  EXPECT_EQ(read(fw_cfg::kSetupData, l.setup.size()), l.setup);
  EXPECT_EQ(read_le(fw_cfg::kKernelAddr, 4), l.kernel_addr);
  EXPECT_EQ(read_le(fw_cfg::kKernelSize, 4), l.kernel.size());
  EXPECT_EQ(read(fw_cfg::kKernelData, l.kernel.size()), l.kernel);
  EXPECT_EQ(read_le(fw_cfg::kCmdlineAddr, 4), l.cmdline_addr);
  EXPECT_EQ(read_le(fw_cfg::kCmdlineSize, 4), 6u);
  EXPECT_EQ(read(fw_cfg::kCmdlineData, 6), l.cmdline);
  EXPECT_EQ(read_le(fw_cfg::kInitrdAddr, 4), l.initrd_addr);
  EXPECT_EQ(read_le(fw_cfg::kInitrdSize, 4), 5000u);
  EXPECT_EQ(read(fw_cfg::kInitrdData, 5000), l.initrd);
  EXPECT_EQ(file("genroms/linuxboot_dma.bin", 4), setup.linux_boot_rom);
  const std::string order = "/rom@genroms/linuxboot_dma.bin";
  auto bootorder = file("bootorder", order.size() + 1);
  EXPECT_EQ(std::string(bootorder.begin(), bootorder.end()), order + '\0');
}

TEST_F(FirmwareFwCfgTest, KernelWithoutAValidOptionRomIsRefused) {
  auto linux_image = prepare_fw_cfg_linux(make_bzimage({}), {}, "", kRam);
  ASSERT_TRUE(linux_image);
  FirmwareSetup setup;
  setup.ram = mem.regions();
  setup.linux_image = linux_image.value();
  setup.linux_boot_rom = {0x7f, 'E', 'L', 'F'};
  EXPECT_FALSE(populate_fw_cfg(dev, setup));
}

TEST(Firmware, BootVcpuStartsAtTheResetVector) {
  kvm_sregs current{};
  current.apic_base = 0xfee00900;
  current.cr0 = 0x80000011;
  current.efer = 0x500;
  const kvm_sregs s = reset_vector_sregs(current);
  const kvm_regs r = reset_vector_regs();
  EXPECT_EQ(s.cs.selector, 0xf000);
  EXPECT_EQ(s.cs.base, 0xffff0000u);
  EXPECT_EQ(s.cs.base + r.rip, 0xfffffff0u);  // 16 bytes below 4 GiB: the image's last paragraph
  EXPECT_EQ(s.cs.limit, 0xffffu);
  EXPECT_EQ(s.cs.db, 0);
  EXPECT_EQ(s.cs.type, 0xb);
  for (const kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss}) {
    EXPECT_EQ(seg->base, 0u);
    EXPECT_EQ(seg->limit, 0xffffu);
    EXPECT_EQ(seg->type, 0x3);
    EXPECT_EQ(seg->present, 1);
  }
  EXPECT_EQ(s.cr0, 0x60000010u);  // real mode, caches as after reset
  EXPECT_EQ(s.efer, 0u);
  EXPECT_EQ(s.cr4, 0u);
  EXPECT_EQ(s.apic_base, 0xfee00900u);  // the LAPIC state stays KVM's
  EXPECT_EQ(r.rflags, 2u);
}

}  // namespace
}  // namespace wren
