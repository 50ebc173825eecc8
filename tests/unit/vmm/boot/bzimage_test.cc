#include "vmm/boot/bzimage.h"

#include <asm/bootparam.h>
#include <gtest/gtest.h>

#include <cstring>

#include "hypervisor/layout.h"
#include "unit/vmm/boot/fake_bzimage.h"
#include "vmm/boot/e820.h"

namespace wren {
namespace {

constexpr uint64_t kRam = 64 * layout::kMiB;

class BzImageTest : public ::testing::Test {
 protected:
  GuestMemory mem{GuestMemory::x86_layout(kRam)};
  std::vector<E820Entry> e820 = build_e820(mem.regions());

  boot_params zero_page() const {
    auto p = mem.read_obj<boot_params>(layout::kZeroPageAddr);
    EXPECT_TRUE(p.has_value());
    return p.value_or(boot_params{});
  }
  std::vector<uint8_t> read(uint64_t gpa, size_t n) const {
    std::vector<uint8_t> out(n);
    EXPECT_TRUE(mem.read(gpa, out));
    return out;
  }
  Result<BootImage> load(const FakeKernelSpec& spec, std::span<const uint8_t> initrd = {},
                         std::string_view cmdline = "console=ttyS0") {
    const auto kernel = make_bzimage(spec);
    return load_bzimage(mem, kernel, initrd, cmdline, e820);
  }
};

TEST_F(BzImageTest, LoadsGoodImage) {
  const FakeKernelSpec spec;
  const auto kernel = make_bzimage(spec);
  const auto initrd = pattern(100000, 5);
  const std::string cmdline = "console=ttyS0 panic=-1";
  auto r = load_bzimage(mem, kernel, initrd, cmdline, e820);
  ASSERT_TRUE(r.ok()) << r.error();
  const BootImage& img = r.value();

  EXPECT_EQ(img.mode, EntryMode::k64Bit);
  EXPECT_EQ(img.entry_rip, layout::kKernelLoadAddr + 0x200);
  EXPECT_EQ(img.zero_page_gpa, layout::kZeroPageAddr);
  EXPECT_EQ(img.protocol_version, 0x020f);
  // Decompresses at the preferred 16 MiB, needs init_size from there.
  EXPECT_EQ(img.kernel_end, 16 * layout::kMiB + spec.init_size);

  // Initrd: page aligned, as high as possible in RAM, above the kernel.
  EXPECT_EQ(img.initrd_size, initrd.size());
  EXPECT_EQ(img.initrd_gpa % layout::kPageSize, 0u);
  EXPECT_EQ(img.initrd_gpa, (kRam - initrd.size()) / layout::kPageSize * layout::kPageSize);
  EXPECT_GE(img.initrd_gpa, img.kernel_end);
  EXPECT_EQ(read(img.initrd_gpa, initrd.size()), initrd);

  // The protected-mode kernel at 1 MiB, byte for byte.
  const std::vector<uint8_t> pm(kernel.begin() + 5 * 512, kernel.end());
  EXPECT_EQ(read(layout::kKernelLoadAddr, pm.size()), pm);

  // The command line with its NUL.
  const auto cl = read(layout::kCmdlineAddr, cmdline.size() + 1);
  EXPECT_EQ(std::string(cl.begin(), cl.end() - 1), cmdline);
  EXPECT_EQ(cl.back(), 0);

  const boot_params zp = zero_page();
  EXPECT_EQ(zp.hdr.header, 0x53726448u);
  EXPECT_EQ(zp.hdr.version, 0x020f);
  EXPECT_EQ(zp.hdr.type_of_loader, 0xff);
  EXPECT_EQ(zp.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
  EXPECT_EQ(zp.hdr.heap_end_ptr, 0xfe00);
  EXPECT_EQ(zp.hdr.vid_mode, 0xffff);
  EXPECT_EQ(zp.hdr.cmd_line_ptr, layout::kCmdlineAddr);
  EXPECT_EQ(zp.hdr.ramdisk_image, img.initrd_gpa);
  EXPECT_EQ(zp.hdr.ramdisk_size, initrd.size());
  EXPECT_EQ(zp.hdr.hardware_subarch, 0u);
  EXPECT_EQ(zp.hdr.init_size, spec.init_size);  // copied from the image
  EXPECT_EQ(zp.hdr.xloadflags, XLF_KERNEL_64);
  ASSERT_EQ(zp.e820_entries, e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    EXPECT_EQ(zp.e820_table[i].addr, e820[i].addr);
    EXPECT_EQ(zp.e820_table[i].size, e820[i].size);
    EXPECT_EQ(zp.e820_table[i].type, static_cast<uint32_t>(e820[i].type));
  }
}

TEST_F(BzImageTest, InitrdStaysBelowInitrdAddrMax) {
  FakeKernelSpec spec;
  spec.initrd_addr_max = 48 * layout::kMiB - 1;
  const auto initrd = pattern(3 * layout::kMiB + 123, 9);
  auto r = load(spec, initrd);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->initrd_gpa, (48 * layout::kMiB - initrd.size()) / layout::kPageSize * layout::kPageSize);
  EXPECT_LE(r->initrd_gpa + r->initrd_size - 1, spec.initrd_addr_max);
  EXPECT_EQ(zero_page().hdr.ramdisk_image, r->initrd_gpa);
}

TEST_F(BzImageTest, NoInitrdLeavesRamdiskFieldsZero) {
  auto r = load(FakeKernelSpec{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->initrd_gpa, 0u);
  EXPECT_EQ(zero_page().hdr.ramdisk_image, 0u);
  EXPECT_EQ(zero_page().hdr.ramdisk_size, 0u);
}

TEST_F(BzImageTest, ThirtyTwoBitEntryWithoutXlfKernel64) {
  FakeKernelSpec spec;
  spec.xloadflags = 0;
  auto r = load(spec);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->mode, EntryMode::k32Bit);
  EXPECT_EQ(r->entry_rip, layout::kKernelLoadAddr);
  EXPECT_EQ(zero_page().hdr.code32_start, layout::kKernelLoadAddr);
}

TEST_F(BzImageTest, OldProtocolWithoutXloadflagsUses32BitEntry) {
  FakeKernelSpec spec;
  spec.version = 0x0206;  // xloadflags (2.12) and init_size (2.10) are not defined
  auto r = load(spec);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->mode, EntryMode::k32Bit);
  EXPECT_EQ(r->kernel_end, 2 * layout::kMiB);  // load address aligned up; no init_size, no pref_address
}

TEST_F(BzImageTest, CallerCanRefuse64BitEntry) {
  const auto kernel = make_bzimage(FakeKernelSpec{});
  auto r = load_bzimage(mem, kernel, {}, "", e820, /*allow_64bit_entry=*/false);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->mode, EntryMode::k32Bit);
}

TEST_F(BzImageTest, CopiesOnlyTheHeaderTheKernelDeclares) {
  FakeKernelSpec spec;
  spec.version = 0x0206;
  spec.header_end_offset = 0x23c - 0x202;  // header ends after cmdline_size (2.06)
  auto r = load(spec);
  ASSERT_TRUE(r.ok()) << r.error();
  const boot_params zp = zero_page();
  EXPECT_EQ(zp.hdr.cmdline_size, spec.cmdline_size);
  EXPECT_EQ(zp.hdr.init_size, 0u);  // beyond the declared header: not copied
  EXPECT_EQ(zp.hdr.pref_address, 0u);
}

TEST_F(BzImageTest, RejectsBadMagic) {
  FakeKernelSpec spec;
  spec.magic = 0x12345678;
  auto r = load(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "not a bzImage (no HdrS magic)");
}

TEST_F(BzImageTest, RejectsOldProtocol) {
  FakeKernelSpec spec;
  spec.version = 0x0203;
  auto r = load(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "boot protocol 2.03 too old (need >= 2.06)");
}

TEST_F(BzImageTest, RejectsImageWithoutLoadedHigh) {
  FakeKernelSpec spec;
  spec.loadflags = 0;
  auto r = load(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("LOADED_HIGH"), std::string::npos) << r.error();
}

TEST_F(BzImageTest, RejectsSetupBeyondEndOfFile) {
  auto kernel = make_bzimage(FakeKernelSpec{});
  kernel[0x1f1] = 200;  // 201 sectors of setup in a 66 KiB file
  auto r = load_bzimage(mem, kernel, {}, "", e820);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "kernel image truncated: its setup code needs 102912 bytes but the file has only " +
                           std::to_string(kernel.size()));
}

TEST_F(BzImageTest, RejectsTruncatedProtectedModePart) {
  auto kernel = make_bzimage(FakeKernelSpec{});
  kernel.resize(kernel.size() - 4096);
  auto r = load_bzimage(mem, kernel, {}, "", e820);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
}

TEST_F(BzImageTest, RejectsEmptyAndTinyImages) {
  auto r = load_bzimage(mem, {}, {}, "", e820);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "kernel image is empty");
  const std::vector<uint8_t> tiny(100, 0);
  r = load_bzimage(mem, tiny, {}, "", e820);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not a bzImage"), std::string::npos) << r.error();
}

TEST_F(BzImageTest, RefusesInitrdThatDoesNotFitAndWritesNothing) {
  const auto initrd = pattern(60 * layout::kMiB, 1);  // RAM is 64 MiB; the kernel needs up to 20 MiB
  auto r = load(FakeKernelSpec{}, initrd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rfind("initrd of 62914560 bytes does not fit below 0x4000000", 0), 0u) << r.error();
  EXPECT_EQ(zero_page().hdr.header, 0u);  // nothing was written
}

TEST_F(BzImageTest, RefusesInitrdLargerThanItsAddressLimit) {
  FakeKernelSpec spec;
  spec.initrd_addr_max = 0xfffff;  // the initrd would have to sit below 1 MiB
  const auto initrd = pattern(8192, 1);
  auto r = load(spec, initrd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rfind("initrd of 8192 bytes does not fit below 0x100000", 0), 0u) << r.error();
}

TEST_F(BzImageTest, EnforcesKernelCommandLineLimit) {
  FakeKernelSpec spec;
  spec.cmdline_size = 16;
  EXPECT_TRUE(load(spec, {}, std::string(16, 'x')).ok());
  auto r = load(spec, {}, std::string(17, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "command line of 17 bytes is too long (this kernel accepts at most 16)");
}

TEST_F(BzImageTest, EnforcesCommandLineAreaLimit) {
  FakeKernelSpec spec;
  spec.cmdline_size = 0xffffffff;
  auto r = load(spec, {}, std::string(layout::kCmdlineMax, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("too long"), std::string::npos);
  EXPECT_TRUE(load(spec, {}, std::string(layout::kCmdlineMax - 1, 'x')).ok());
}

TEST_F(BzImageTest, RefusesCommandLineWithNul) {
  auto r = load(FakeKernelSpec{}, {}, std::string_view("a\0b", 3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "command line contains a NUL byte");
}

TEST(BzImage, RefusesGuestTooSmallForTheKernel) {
  GuestMemory small(GuestMemory::x86_layout(16 * layout::kMiB));
  const auto kernel = make_bzimage(FakeKernelSpec{});  // needs up to 20 MiB
  auto r = load_bzimage(small, kernel, {}, "", build_e820(small.regions()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "guest RAM too small for the kernel: it needs memory up to 0x1400000 but low RAM ends at 0x1000000");
}

TEST_F(BzImageTest, RefusesOversizedE820) {
  std::vector<E820Entry> many(129, E820Entry{0, layout::kPageSize, E820Type::kRam});
  const auto kernel = make_bzimage(FakeKernelSpec{});
  auto r = load_bzimage(mem, kernel, {}, "", many);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("129 entries"), std::string::npos) << r.error();
}

TEST(BzImage, ParseReportsHeaderFields) {
  FakeKernelSpec spec;
  spec.setup_sects = 0;  // means 4
  const auto kernel = make_bzimage(spec);
  auto info = parse_bzimage(kernel);
  ASSERT_TRUE(info.ok()) << info.error();
  EXPECT_EQ(info->setup_bytes, 5u * 512);
  EXPECT_EQ(info->kernel_bytes, spec.kernel_bytes);
  EXPECT_TRUE(info->supports_64bit_entry);
  EXPECT_TRUE(info->relocatable);
  EXPECT_EQ(info->initrd_addr_max, spec.initrd_addr_max);
  EXPECT_EQ(info->cmdline_size, spec.cmdline_size);
  EXPECT_EQ(boot_protocol_string(0x020f), "2.15");
  EXPECT_EQ(boot_protocol_string(0x0206), "2.06");
}

TEST(BzImage, RejectsBadKernelAlignment) {
  FakeKernelSpec spec;
  spec.kernel_alignment = 0x300000;
  auto info = parse_bzimage(make_bzimage(spec));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().find("kernel_alignment"), std::string::npos);
}

}  // namespace
}  // namespace wren
