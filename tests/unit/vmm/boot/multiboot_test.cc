#include "vmm/boot/multiboot.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "hypervisor/layout.h"
#include "unit/temp_path.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/x86_entry.h"

namespace wren::multiboot {
namespace {

constexpr uint64_t kRam = 64 * layout::kMiB;
constexpr uint32_t kLoadAddr = 0x100000;

void put32(std::vector<uint8_t>& v, size_t off, uint32_t x) { std::memcpy(v.data() + off, &x, 4); }

// A multiboot header at `off`: magic, flags, checksum (spoiled if asked) and
// the five address fields.
struct HeaderSpec {
  uint32_t flags = kHeaderAoutKludge;
  bool bad_checksum = false;
  uint32_t header_addr = 0, load_addr = 0, load_end_addr = 0, bss_end_addr = 0, entry_addr = 0;
};

void put_header(std::vector<uint8_t>& v, size_t off, const HeaderSpec& h) {
  put32(v, off, kHeaderMagic);
  put32(v, off + 4, h.flags);
  put32(v, off + 8, static_cast<uint32_t>(0 - kHeaderMagic - h.flags) + (h.bad_checksum ? 1 : 0));
  put32(v, off + 12, h.header_addr);
  put32(v, off + 16, h.load_addr);
  put32(v, off + 20, h.load_end_addr);
  put32(v, off + 24, h.bss_end_addr);
  put32(v, off + 28, h.entry_addr);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + seed);
  return v;
}

// A flat a.out-kludge image: the header 0x40 bytes in, loaded at kLoadAddr.
constexpr size_t kAoutHeaderOffset = 0x40;
std::vector<uint8_t> make_aout(size_t file_size, HeaderSpec h) {
  auto v = pattern(file_size, 1);
  if (h.header_addr == 0) h.header_addr = kLoadAddr + kAoutHeaderOffset;
  if (h.load_addr == 0) h.load_addr = kLoadAddr;
  if (h.entry_addr == 0) h.entry_addr = kLoadAddr + 0x100;
  put_header(v, kAoutHeaderOffset, h);
  return v;
}

struct ElfSegment {
  uint32_t type = PT_LOAD;
  uint32_t vaddr = 0;
  uint32_t paddr = 0;
  std::vector<uint8_t> data;
  uint32_t memsz = 0;
};

// An ELF32 i386 executable with the given segments (data from 0x1000 on)
// and a multiboot header without address fields at 0x200.
constexpr size_t kElfHeaderOffset = 0x200;
std::vector<uint8_t> make_elf(const std::vector<ElfSegment>& segs, uint32_t entry, uint32_t mb_flags = 0) {
  size_t size = 0x1000;
  for (const auto& s : segs) size += s.data.size();
  std::vector<uint8_t> v(size, 0);
  Elf32_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS32;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_386;
  eh.e_version = EV_CURRENT;
  eh.e_entry = entry;
  eh.e_phoff = sizeof(Elf32_Ehdr);
  eh.e_ehsize = sizeof(Elf32_Ehdr);
  eh.e_phentsize = sizeof(Elf32_Phdr);
  eh.e_phnum = static_cast<uint16_t>(segs.size());
  std::memcpy(v.data(), &eh, sizeof(eh));
  size_t data_at = 0x1000;
  for (size_t i = 0; i < segs.size(); ++i) {
    Elf32_Phdr ph{};
    ph.p_type = segs[i].type;
    ph.p_offset = static_cast<uint32_t>(data_at);
    ph.p_vaddr = segs[i].vaddr;
    ph.p_paddr = segs[i].paddr;
    ph.p_filesz = static_cast<uint32_t>(segs[i].data.size());
    ph.p_memsz = segs[i].memsz;
    std::memcpy(v.data() + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
    std::memcpy(v.data() + data_at, segs[i].data.data(), segs[i].data.size());
    data_at += segs[i].data.size();
  }
  put_header(v, kElfHeaderOffset, HeaderSpec{mb_flags});
  return v;
}

class MultibootTest : public ::testing::Test {
 protected:
  GuestMemory mem{GuestMemory::x86_layout(kRam)};
  std::vector<E820Entry> e820 = build_e820(mem.regions());

  Result<BootImage> load_image(std::span<const uint8_t> kernel, const std::vector<Module>& modules = {},
                               std::string_view cmdline = "") {
    return load(mem, kernel, modules, cmdline, e820);
  }
  std::vector<uint8_t> read(uint64_t gpa, size_t n) const {
    std::vector<uint8_t> out(n);
    EXPECT_TRUE(mem.read(gpa, out));
    return out;
  }
  std::string read_string(uint64_t gpa) const {
    std::string s;
    for (uint64_t a = gpa;; ++a) {
      auto c = mem.read_obj<char>(a);
      if (!c || *c == 0) return s;
      s += *c;
    }
  }
  Info info(const BootImage& img) const { return mem.read_obj<Info>(img.rbx).value_or(Info{}); }
  void expect_error(const Result<BootImage>& r, const std::string& fragment) const {
    ASSERT_FALSE(r.ok()) << "expected an error containing '" << fragment << "'";
    EXPECT_NE(r.error().find(fragment), std::string::npos) << r.error();
  }
};

// --- header search ---------------------------------------------------------

TEST(MultibootHeader, NoMagicMeansNoHeader) {
  auto found = find_header(pattern(16384, 0));
  ASSERT_TRUE(found.ok()) << found.error();
  EXPECT_FALSE(found.value().has_value());
}

TEST(MultibootHeader, FoundAtAlignedOffsetWithFields) {
  std::vector<uint8_t> v(4096, 0);
  put_header(v, 0x1000 - 32, HeaderSpec{kHeaderAoutKludge, false, 1, 2, 3, 4, 5});
  auto found = find_header(v);
  ASSERT_TRUE(found.ok() && found.value().has_value()) << found.error();
  const Header& h = *found.value();
  EXPECT_EQ(h.offset, 0x1000u - 32);
  EXPECT_EQ(h.flags, kHeaderAoutKludge);
  EXPECT_EQ(h.header_addr, 1u);
  EXPECT_EQ(h.load_addr, 2u);
  EXPECT_EQ(h.load_end_addr, 3u);
  EXPECT_EQ(h.bss_end_addr, 4u);
  EXPECT_EQ(h.entry_addr, 5u);
}

TEST(MultibootHeader, UnalignedOrLateMagicIsIgnored) {
  std::vector<uint8_t> v(16384, 0);
  put_header(v, 0x102, HeaderSpec{0});  // not 4-byte aligned
  put_header(v, 8192, HeaderSpec{0});   // past the first 8 KiB
  auto found = find_header(v);
  ASSERT_TRUE(found.ok()) << found.error();
  EXPECT_FALSE(found.value().has_value());
}

TEST(MultibootHeader, BadChecksumIsAnError) {
  std::vector<uint8_t> v(4096, 0);
  put_header(v, 0x40, HeaderSpec{0, true});
  auto found = find_header(v);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.error().find("bad checksum"), std::string::npos) << found.error();
}

TEST(MultibootHeader, ValidCopyAfterABadOneIsFound) {
  std::vector<uint8_t> v(4096, 0);
  put_header(v, 0x40, HeaderSpec{0, true});
  put_header(v, 0x80, HeaderSpec{0});
  auto found = find_header(v);
  ASSERT_TRUE(found.ok() && found.value().has_value()) << found.error();
  EXPECT_EQ(found.value()->offset, 0x80u);
}

TEST(MultibootHeader, TruncatedAddressFieldsAreAnError) {
  // Flag 16 promises 20 more bytes of address fields; the file ends first.
  std::vector<uint8_t> v(0x50, 0);
  put32(v, 0x40, kHeaderMagic);
  put32(v, 0x44, kHeaderAoutKludge);
  put32(v, 0x48, static_cast<uint32_t>(0 - kHeaderMagic - kHeaderAoutKludge));
  auto found = find_header(v);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.error().find("truncated"), std::string::npos) << found.error();
}

// --- module list syntax -----------------------------------------------------

TEST(MultibootModuleList, PathsArgumentsAndEscapedCommas) {
  auto r = parse_module_list("/a/mod1 x=1 y,/b/mod2,/c/odd,,name arg");
  ASSERT_TRUE(r.ok()) << r.error();
  const auto& m = r.value();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].path, "/a/mod1");
  EXPECT_EQ(m[0].cmdline, "/a/mod1 x=1 y");
  EXPECT_EQ(m[1].path, "/b/mod2");
  EXPECT_EQ(m[1].cmdline, "/b/mod2");
  EXPECT_EQ(m[2].path, "/c/odd,name");
  EXPECT_EQ(m[2].cmdline, "/c/odd,name arg");
}

TEST(MultibootModuleList, EmptyEntriesAreErrors) {
  EXPECT_FALSE(parse_module_list("").ok());
  EXPECT_FALSE(parse_module_list(",a").ok());
  EXPECT_FALSE(parse_module_list("a,").ok());
  EXPECT_FALSE(parse_module_list(" a").ok());
}

// --- refusals ----------------------------------------------------------------

TEST_F(MultibootTest, NoHeaderIsRefused) { expect_error(load_image(pattern(8192, 3)), "no multiboot header"); }

TEST_F(MultibootTest, BadChecksumIsRefused) {
  expect_error(load_image(make_aout(0x1000, HeaderSpec{kHeaderAoutKludge, true})), "bad checksum");
}

TEST_F(MultibootTest, UnknownRequiredFlagsAreRefused) {
  expect_error(load_image(make_aout(0x1000, HeaderSpec{kHeaderAoutKludge | (1u << 3)})), "does not know");
  expect_error(load_image(make_aout(0x1000, HeaderSpec{kHeaderAoutKludge | kHeaderVideoMode})), "video mode");
}

TEST_F(MultibootTest, UnknownOptionalFlagsAreIgnored) {
  EXPECT_TRUE(load_image(make_aout(0x1000, HeaderSpec{kHeaderAoutKludge | (1u << 20)})).ok());
}

// An a.out-kludge header that loads the image at `addr` and enters at its start.
HeaderSpec loaded_at(uint32_t addr) {
  HeaderSpec h;
  h.load_addr = addr;
  h.header_addr = addr + kAoutHeaderOffset;
  h.entry_addr = addr;
  return h;
}

TEST_F(MultibootTest, AddressesOutsideUsableRamAreRefused) {
  const struct {
    uint32_t addr;
    const char* error;
  } cases[] = {
      {0x8000000, "outside guest RAM"},  // 128 MiB, RAM is 64 MiB
      {0xd0000000, "PCI hole"},
      {0x8000, "below 1 MiB"},
      {0xfffff800, "32-bit address space"},  // the 4 KiB image would wrap
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.addr);
    expect_error(load_image(make_aout(0x1000, loaded_at(c.addr))), c.error);
  }

  // Loaded part in RAM, but the bss runs past its end.
  HeaderSpec h;
  h.bss_end_addr = static_cast<uint32_t>(kRam + 0x1000);
  expect_error(load_image(make_aout(0x1000, h)), "outside guest RAM");
}

TEST_F(MultibootTest, InconsistentAoutFieldsAreRefused) {
  HeaderSpec h;
  h.header_addr = kLoadAddr - 4;  // header before load_addr
  expect_error(load_image(make_aout(0x1000, h)), "header_addr");

  h = HeaderSpec{};
  h.header_addr = kLoadAddr + 0x1000;  // the image would start before the file
  expect_error(load_image(make_aout(0x1000, h)), "before the beginning of the file");

  h = HeaderSpec{};
  h.load_end_addr = kLoadAddr + 0x2000;  // more than the file holds
  expect_error(load_image(make_aout(0x1000, h)), "truncated");

  h = HeaderSpec{};
  h.bss_end_addr = kLoadAddr + 0x800;  // bss ends inside the loaded part
  expect_error(load_image(make_aout(0x1000, h)), "bss_end_addr");

  h = HeaderSpec{};
  h.entry_addr = kLoadAddr + 0x5000;
  expect_error(load_image(make_aout(0x1000, h)), "entry point");
}

TEST_F(MultibootTest, BadElfImagesAreRefused) {
  auto elf = make_elf({{PT_LOAD, kLoadAddr, kLoadAddr, pattern(0x100, 2), 0x80}}, kLoadAddr);
  expect_error(load_image(elf), "more file bytes");

  elf = make_elf({{PT_LOAD, 0xfffff000, 0xfffff000, pattern(0x100, 2), 0x2000}}, 0xfffff000);
  expect_error(load_image(elf), "32-bit address space");

  elf = make_elf({{PT_NOTE, kLoadAddr, kLoadAddr, pattern(0x100, 2), 0x100}}, kLoadAddr);
  expect_error(load_image(elf), "no loadable segment");

  elf = make_elf({{PT_LOAD, kLoadAddr, kLoadAddr, pattern(0x100, 2), 0x100}}, kLoadAddr);
  elf[EI_CLASS] = ELFCLASS64;
  expect_error(load_image(elf), "64-bit ELF");

  elf = make_elf({{PT_LOAD, kLoadAddr, kLoadAddr, pattern(0x100, 2), 0x100}}, kLoadAddr);
  elf.resize(0x1080);  // segment data cut short
  expect_error(load_image(elf), "beyond the end of the file");

  auto not_elf = make_elf({{PT_LOAD, kLoadAddr, kLoadAddr, pattern(0x100, 2), 0x100}}, kLoadAddr);
  not_elf[0] = 0;
  expect_error(load_image(not_elf), "not an ELF image");
}

TEST_F(MultibootTest, ModulesThatDoNotFitAreRefused) {
  const auto kernel = make_aout(0x1000, HeaderSpec{});
  const auto big = pattern(kRam - layout::kMiB, 5);  // with the kernel at 1 MiB, more than RAM
  const auto small = pattern(100, 6);
  expect_error(load_image(kernel, {{small, "small"}, {big, "big"}}), "modules do not fit");
}

TEST_F(MultibootTest, CommandLinesThatOverflowTheInfoAreaAreRefused) {
  const auto kernel = make_aout(0x1000, HeaderSpec{});
  expect_error(load_image(kernel, {}, std::string(layout::kMultibootInfoEnd, 'x')), "does not fit");
  expect_error(load_image(kernel, {}, std::string("a\0b", 3)), "NUL");
}

TEST_F(MultibootTest, RefusalWritesNothing) {
  const auto big = pattern(kRam, 5);
  ASSERT_FALSE(load_image(make_aout(0x1000, HeaderSpec{}), {{big, "big"}}).ok());
  EXPECT_EQ(read(kLoadAddr, 16), std::vector<uint8_t>(16, 0));
  EXPECT_EQ(read(layout::kMultibootInfoAddr, 16), std::vector<uint8_t>(16, 0));
}

// --- successful loads ----------------------------------------------------------

TEST_F(MultibootTest, AoutKludgeLoadsTheImageAndZeroesTheBss) {
  ASSERT_TRUE(mem.fill(kLoadAddr, 0xaa, 0x10000));
  HeaderSpec h;
  h.load_end_addr = kLoadAddr + 0x800;  // only the first 0x800 bytes of the file
  h.bss_end_addr = kLoadAddr + 0x3000;
  const auto kernel = make_aout(0x1000, h);
  auto r = load_image(kernel, {}, "k exit=3");
  ASSERT_TRUE(r.ok()) << r.error();
  const BootImage& img = r.value();
  EXPECT_EQ(img.mode, EntryMode::k32Bit);
  EXPECT_EQ(img.entry_rip, kLoadAddr + 0x100u);
  EXPECT_EQ(img.kernel_end, kLoadAddr + 0x3000u);
  EXPECT_EQ(img.rax, kBootloaderMagic);
  EXPECT_EQ(read(kLoadAddr, 0x800), std::vector<uint8_t>(kernel.begin(), kernel.begin() + 0x800));
  EXPECT_EQ(read(kLoadAddr + 0x800, 0x2800), std::vector<uint8_t>(0x2800, 0));
  EXPECT_EQ(read(kLoadAddr + 0x3000, 4), std::vector<uint8_t>(4, 0xaa));  // nothing past bss_end
  EXPECT_EQ(read_string(info(img).cmdline), "k exit=3");
}

TEST_F(MultibootTest, AoutHeaderLaterInTheFileShiftsTheLoadOffset) {
  // Header at file offset 0x40 and header_addr = load_addr + 0x10: the image
  // starts 0x30 bytes into the file.
  HeaderSpec h;
  h.header_addr = kLoadAddr + 0x10;
  const auto kernel = make_aout(0x1000, h);
  auto r = load_image(kernel);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(read(kLoadAddr, 0x1000 - 0x30), std::vector<uint8_t>(kernel.begin() + 0x30, kernel.end()));
}

TEST_F(MultibootTest, ElfSegmentsLoadAtPhysicalAddresses) {
  ASSERT_TRUE(mem.fill(0x200000, 0xaa, 0x10000));
  const auto text = pattern(0x300, 7), data = pattern(0x80, 9);
  // A higher-half kernel: linked at 0xc0100000, loaded at 1 MiB.
  const auto elf = make_elf({{PT_LOAD, 0xc0100000, 0x100000, text, 0x300},
                             {PT_NOTE, 0, 0, pattern(8, 1), 8},
                             {PT_LOAD, 0xc0200000, 0x200000, data, 0x1000}},
                            0xc0100010);
  auto r = load_image(elf);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->entry_rip, 0x100010u);  // translated through the segment holding it
  EXPECT_EQ(r->kernel_end, 0x201000u);
  EXPECT_EQ(read(0x100000, text.size()), text);
  EXPECT_EQ(read(0x200000, data.size()), data);
  EXPECT_EQ(read(0x200080, 0x1000 - 0x80), std::vector<uint8_t>(0x1000 - 0x80, 0));
}

TEST_F(MultibootTest, ElfHeaderWithAddressFieldsUsesTheFields) {
  // Flag 16 wins over the ELF program headers, as in GRUB and QEMU.
  auto elf = make_elf({{PT_LOAD, 0x400000, 0x400000, pattern(0x100, 2), 0x100}}, 0x400000, kHeaderAoutKludge);
  put32(elf, kElfHeaderOffset + 12, kLoadAddr + kElfHeaderOffset);  // header_addr
  put32(elf, kElfHeaderOffset + 16, kLoadAddr);                     // load_addr
  put32(elf, kElfHeaderOffset + 28, kLoadAddr + 0x1000);            // entry
  auto r = load_image(elf);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->entry_rip, kLoadAddr + 0x1000u);
  EXPECT_EQ(read(kLoadAddr, 64), std::vector<uint8_t>(elf.begin(), elf.begin() + 64));
}

TEST_F(MultibootTest, InfoStructureDescribesMemoryCmdlineAndModules) {
  const auto kernel = make_aout(0x1000, HeaderSpec{});
  const auto mod0 = pattern(5000, 11), mod1 = pattern(3, 12);
  auto r = load_image(kernel, {{mod0, "/m/zero a=1"}, {mod1, "/m/one"}}, "/k/kernel exit=21");
  ASSERT_TRUE(r.ok()) << r.error();
  const BootImage& img = r.value();
  EXPECT_GE(img.rbx, layout::kMultibootInfoAddr);
  EXPECT_LT(img.rbx, layout::kMultibootInfoEnd);
  const Info mbi = info(img);
  EXPECT_EQ(mbi.flags, kInfoMemory | kInfoCmdline | kInfoModules | kInfoMemoryMap | kInfoBootLoaderName);
  EXPECT_EQ(mbi.mem_lower, layout::kEbdaStart / 1024);
  EXPECT_EQ(mbi.mem_upper, (kRam - layout::kHighMemStart) / 1024);
  EXPECT_EQ(read_string(mbi.cmdline), "/k/kernel exit=21");
  EXPECT_EQ(read_string(mbi.boot_loader_name), "wren");
  EXPECT_EQ(img.cmdline_gpa, mbi.cmdline);

  // Modules: page aligned, in order after the kernel, contents intact.
  ASSERT_EQ(mbi.mods_count, 2u);
  const auto m0 = mem.read_obj<ModuleEntry>(mbi.mods_addr).value();
  const auto m1 = mem.read_obj<ModuleEntry>(mbi.mods_addr + sizeof(ModuleEntry)).value();
  EXPECT_EQ(m0.mod_start, kLoadAddr + 0x1000u);
  EXPECT_EQ(m0.mod_end, m0.mod_start + mod0.size());
  EXPECT_EQ(m1.mod_start, m0.mod_start + 0x2000u);  // 5000 bytes rounded up to pages
  EXPECT_EQ(m1.mod_end, m1.mod_start + mod1.size());
  EXPECT_EQ(read(m0.mod_start, mod0.size()), mod0);
  EXPECT_EQ(read(m1.mod_start, mod1.size()), mod1);
  EXPECT_EQ(read_string(m0.string), "/m/zero a=1");
  EXPECT_EQ(read_string(m1.string), "/m/one");

  // Memory map: exactly the e820 map, 24-byte entries whose size field is 20.
  ASSERT_EQ(mbi.mmap_length, e820.size() * sizeof(MemoryMapEntry));
  for (size_t i = 0; i < e820.size(); ++i) {
    const auto e = mem.read_obj<MemoryMapEntry>(mbi.mmap_addr + i * sizeof(MemoryMapEntry)).value();
    EXPECT_EQ(e.size, 20u);
    EXPECT_EQ(e.base_addr, e820[i].addr);
    EXPECT_EQ(e.length, e820[i].size);
    EXPECT_EQ(e.type, static_cast<uint32_t>(e820[i].type));
  }
  // The map the guest sees has RAM at 0 and from 1 MiB to the end of RAM.
  EXPECT_EQ(e820.front(), (E820Entry{0, layout::kEbdaStart, E820Type::kRam}));
  EXPECT_NE(std::find(e820.begin(), e820.end(),
                      E820Entry{layout::kHighMemStart, kRam - layout::kHighMemStart, E820Type::kRam}),
            e820.end());
}

TEST_F(MultibootTest, EntryRegistersCarryMagicAndInfoAddress) {
  auto r = load_image(make_aout(0x1000, HeaderSpec{}));
  ASSERT_TRUE(r.ok()) << r.error();
  const kvm_regs regs = boot_regs(r.value());
  EXPECT_EQ(regs.rax, kBootloaderMagic);
  EXPECT_EQ(regs.rbx, r->rbx);
  EXPECT_EQ(regs.rip, kLoadAddr + 0x100u);
  EXPECT_EQ(regs.rflags & (1u << 9), 0u);  // interrupts off
  const kvm_sregs sregs = boot_sregs(kvm_sregs{}, r->mode);
  EXPECT_EQ(sregs.cr0 & (1u << 31), 0u);  // paging off
  EXPECT_EQ(sregs.cr0 & 1u, 1u);          // protected mode
  EXPECT_EQ(sregs.cs.db, 1);
  EXPECT_EQ(sregs.cs.limit, 0xffffffffu);
}

// --- choosing the loader -----------------------------------------------------------

class KernelLoaderTest : public MultibootTest {
 protected:
  std::string file(const std::string& name, std::span<const uint8_t> bytes) {
    const std::string path = process_temp_path("multiboot_test_" + name);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path;
  }
};

TEST_F(KernelLoaderTest, NeitherBzImageNorMultibootIsRefusedClearly) {
  auto r = load_kernel(mem, {file("junk", pattern(20000, 1)), "", ""}, e820);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("neither a Linux bzImage"), std::string::npos) << r.error();
}

TEST_F(KernelLoaderTest, MultibootKernelGetsItsPathInTheCommandLineAndItsModules) {
  const auto kernel_path = file("kernel", make_aout(0x1000, HeaderSpec{}));
  const auto mod_a = pattern(10, 1), mod_b = pattern(20, 2);
  const auto a = file("mod_a", mod_a), b = file("mod_b", mod_b);
  auto r = load_kernel(mem, {kernel_path, a + " first arg," + b, "exit=5"}, e820);
  ASSERT_TRUE(r.ok()) << r.error();
  const Info mbi = info(r.value());
  EXPECT_EQ(read_string(mbi.cmdline), kernel_path + " exit=5");
  ASSERT_EQ(mbi.mods_count, 2u);
  const auto m0 = mem.read_obj<ModuleEntry>(mbi.mods_addr).value();
  const auto m1 = mem.read_obj<ModuleEntry>(mbi.mods_addr + sizeof(ModuleEntry)).value();
  EXPECT_EQ(read_string(m0.string), a + " first arg");
  EXPECT_EQ(read(m0.mod_start, mod_a.size()), mod_a);
  EXPECT_EQ(read_string(m1.string), b);
  EXPECT_EQ(read(m1.mod_start, mod_b.size()), mod_b);
}

TEST_F(KernelLoaderTest, MissingModuleIsNamed) {
  const auto kernel_path = file("kernel2", make_aout(0x1000, HeaderSpec{}));
  auto r = load_kernel(mem, {kernel_path, "/nonexistent/module arg", ""}, e820);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("/nonexistent/module"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace wren::multiboot
