#include "devices/platform/fw_cfg.h"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

namespace wren {
namespace {

constexpr uint64_t kRamBytes = 1 << 20;
constexpr uint64_t kHighRam = uint64_t{1} << 32;  // a second region, to test 64-bit DMA addresses
constexpr uint64_t kHighRamBytes = 64 * 1024;
constexpr uint64_t kAccess = 0x1000;  // where tests put their FWCfgDmaAccess
constexpr uint64_t kTarget = 0x2000;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

void put_be(std::span<uint8_t> out, uint64_t v) {
  for (size_t i = out.size(); i-- > 0; v >>= 8) out[i] = static_cast<uint8_t>(v);
}

uint32_t get_be32(std::span<const uint8_t> in) {
  uint32_t v = 0;
  for (uint8_t b : in.first(4)) v = (v << 8) | b;
  return v;
}

class FwCfgTest : public ::testing::Test {
 protected:
  GuestMemory mem{{{0, kRamBytes}, {kHighRam, kHighRamBytes}}};
  FwCfg dev{mem};

  void select(uint16_t key) {
    std::array<uint8_t, 2> b{static_cast<uint8_t>(key), static_cast<uint8_t>(key >> 8)};
    dev.write(FwCfg::kSelectorOffset, b);
  }
  std::vector<uint8_t> read_data(size_t n, uint64_t port = FwCfg::kDataOffset) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n; ++i) {
      std::array<uint8_t, 1> b{};
      dev.read(port, b);
      out.push_back(b[0]);
    }
    return out;
  }
  std::vector<uint8_t> read_item(uint16_t key, size_t n) {
    select(key);
    return read_data(n);
  }
  void write_access(uint64_t at, uint32_t control, uint32_t length, uint64_t address) {
    std::array<uint8_t, 16> a{};
    put_be(std::span(a).subspan(0, 4), control);
    put_be(std::span(a).subspan(4, 4), length);
    put_be(std::span(a).subspan(8, 8), address);
    ASSERT_TRUE(mem.write(at, a));
  }
  // Starts a transfer at `access` (two 32-bit big-endian writes when it is
  // above 4 GiB, else the low half only, as SeaBIOS does).
  void kick(uint64_t access) {
    std::array<uint8_t, 4> half{};
    if (access >> 32) {
      put_be(half, access >> 32);
      dev.write(FwCfg::kDmaOffset, half);
    }
    put_be(half, access & 0xffffffff);
    dev.write(FwCfg::kDmaOffset + 4, half);
  }
  // Runs one transfer and returns the control word the device left.
  uint32_t dma(uint32_t control, uint32_t length, uint64_t address, uint64_t access = kAccess) {
    write_access(access, control, length, address);
    kick(access);
    std::array<uint8_t, 4> c{};
    EXPECT_TRUE(mem.read(access, c));
    return get_be32(c);
  }
  std::vector<uint8_t> guest(uint64_t gpa, size_t n) {
    std::vector<uint8_t> out(n);
    EXPECT_TRUE(mem.read(gpa, out));
    return out;
  }
  static uint32_t read_select(uint16_t key) { return (uint32_t{key} << 16) | fw_cfg::kDmaSelect | fw_cfg::kDmaRead; }
};

TEST_F(FwCfgTest, SignatureThenZerosPastTheEnd) {
  EXPECT_EQ(read_item(fw_cfg::kSignature, 6), bytes(std::string("QEMU\0\0", 6)));
}

TEST_F(FwCfgTest, ByteReadsAtTheSelectorPortAlsoReturnData) {
  select(fw_cfg::kSignature);
  EXPECT_EQ(read_data(4, FwCfg::kSelectorOffset), bytes("QEMU"));
}

TEST_F(FwCfgTest, IdAdvertisesTraditionalAndDmaInterfaces) {
  EXPECT_EQ(read_item(fw_cfg::kId, 4), (std::vector<uint8_t>{3, 0, 0, 0}));
}

TEST_F(FwCfgTest, DmaAddressRegisterReadsQemuCfgSignature) {
  std::array<uint8_t, 4> hi{}, lo{};
  dev.read(FwCfg::kDmaOffset, hi);
  dev.read(FwCfg::kDmaOffset + 4, lo);
  EXPECT_EQ(std::string(hi.begin(), hi.end()) + std::string(lo.begin(), lo.end()), "QEMU CFG");
}

TEST_F(FwCfgTest, UnknownSelectorReadsZeros) {
  EXPECT_EQ(read_item(0x0d, 8), std::vector<uint8_t>(8, 0));
  EXPECT_EQ(read_item(0x8123, 4), std::vector<uint8_t>(4, 0));
  EXPECT_EQ(read_item(0x7ff, 4), std::vector<uint8_t>(4, 0));  // file range, no such file
}

TEST_F(FwCfgTest, ItemReadsRestartOnSelectAndStopAtTheEnd) {
  dev.set_item(fw_cfg::kRamSize, {1, 2, 3});
  EXPECT_EQ(read_item(fw_cfg::kRamSize, 2), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(read_data(3), (std::vector<uint8_t>{3, 0, 0}));
  EXPECT_EQ(read_item(fw_cfg::kRamSize, 1), (std::vector<uint8_t>{1}));
}

TEST_F(FwCfgTest, ArchLocalKeysAreADifferentItemAndTheWriteBitIsIgnored) {
  dev.set_item(0x0002, {0x11});
  dev.set_item(fw_cfg::kIrq0Override, {0x22});
  EXPECT_EQ(read_item(0x0002, 1), (std::vector<uint8_t>{0x11}));
  EXPECT_EQ(read_item(fw_cfg::kIrq0Override, 1), (std::vector<uint8_t>{0x22}));
  EXPECT_EQ(read_item(0x4002, 1), (std::vector<uint8_t>{0x11}));
  EXPECT_EQ(read_item(0xc002, 1), (std::vector<uint8_t>{0x22}));
}

TEST_F(FwCfgTest, DataPortWritesAndOddWidthsChangeNothing) {
  dev.set_item(fw_cfg::kNbCpus, {4, 0});
  select(fw_cfg::kNbCpus);
  std::array<uint8_t, 1> w{9};
  dev.write(FwCfg::kDataOffset, w);
  std::array<uint8_t, 2> wide{};
  dev.read(FwCfg::kDataOffset, wide);  // only byte reads return data
  EXPECT_EQ(wide, (std::array<uint8_t, 2>{0xff, 0xff}));
  std::array<uint8_t, 1> narrow_select{0};
  dev.write(FwCfg::kSelectorOffset, narrow_select);  // the selector is 16-bit
  EXPECT_EQ(read_data(2), (std::vector<uint8_t>{4, 0}));
  std::array<uint8_t, 1> gap{};
  dev.read(2, gap);  // 0x512 is not a register
  EXPECT_EQ(gap[0], 0xff);
}

TEST_F(FwCfgTest, SetupRefusesGeneratedKeysFileKeysAndBadFiles) {
  EXPECT_THROW(dev.set_item(fw_cfg::kSignature, {}), std::invalid_argument);
  EXPECT_THROW(dev.set_item(fw_cfg::kId, {}), std::invalid_argument);
  EXPECT_THROW(dev.set_item(fw_cfg::kFileDir, {}), std::invalid_argument);
  EXPECT_THROW(dev.set_item(fw_cfg::kFileFirst, {}), std::invalid_argument);
  EXPECT_THROW(dev.add_file("", {}), std::invalid_argument);
  EXPECT_THROW(dev.add_file(std::string(56, 'x'), {}), std::invalid_argument);
  EXPECT_NO_THROW(dev.add_file(std::string(55, 'x'), {}));
  EXPECT_THROW(dev.add_file(std::string(55, 'x'), {}), std::invalid_argument);
}

TEST_F(FwCfgTest, FileDirectoryIsSortedWithBigEndianFields) {
  dev.add_file("etc/zeta", bytes("zz"));
  dev.add_file("bootorder", bytes("b"));
  dev.add_file("etc/e820", std::vector<uint8_t>(300, 7));
  const auto dir = read_item(fw_cfg::kFileDir, 4 + 3 * 64 + 4);
  EXPECT_EQ(get_be32(dir), 3u);
  const char* names[] = {"bootorder", "etc/e820", "etc/zeta"};
  const uint32_t sizes[] = {1, 300, 2};
  for (size_t i = 0; i < 3; ++i) {
    const auto* e = dir.data() + 4 + i * 64;
    EXPECT_EQ(get_be32(std::span(e, 4)), sizes[i]);
    EXPECT_EQ((e[4] << 8) | e[5], fw_cfg::kFileFirst + i);
    EXPECT_EQ(e[6] | e[7], 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(e + 8)), names[i]);
    EXPECT_EQ(dev.file_selector(names[i]), fw_cfg::kFileFirst + i);
  }
  EXPECT_EQ(std::vector<uint8_t>(dir.end() - 4, dir.end()), std::vector<uint8_t>(4, 0));
  EXPECT_EQ(dev.file_selector("nope"), 0);
  EXPECT_EQ(read_item(dev.file_selector("etc/zeta"), 3), (std::vector<uint8_t>{'z', 'z', 0}));
  EXPECT_EQ(read_item(dev.file_selector("bootorder"), 1), bytes("b"));
}

TEST_F(FwCfgTest, DmaSelectAndReadCopiesIntoGuestMemory) {
  dev.add_file("etc/thing", bytes("hello fw_cfg"));
  EXPECT_EQ(dma(read_select(dev.file_selector("etc/thing")), 12, kTarget), 0u);
  EXPECT_EQ(guest(kTarget, 12), bytes("hello fw_cfg"));
}

TEST_F(FwCfgTest, DmaReadContinuesFromTheDataOffsetAndZeroFillsPastTheEnd) {
  dev.set_item(fw_cfg::kKernelData, bytes("abcdef"));
  ASSERT_TRUE(mem.fill(kTarget, 0xee, 16));
  select(fw_cfg::kKernelData);
  EXPECT_EQ(read_data(1), bytes("a"));
  EXPECT_EQ(dma(fw_cfg::kDmaRead, 8, kTarget), 0u);  // no select: offset 1 onwards
  EXPECT_EQ(guest(kTarget, 9), (std::vector<uint8_t>{'b', 'c', 'd', 'e', 'f', 0, 0, 0, 0xee}));
}

TEST_F(FwCfgTest, DmaSkipAdvancesTheOffset) {
  dev.set_item(fw_cfg::kCmdlineData, bytes("0123456789"));
  EXPECT_EQ(dma((uint32_t{fw_cfg::kCmdlineData} << 16) | fw_cfg::kDmaSelect | fw_cfg::kDmaSkip, 4, 0), 0u);
  EXPECT_EQ(dma(fw_cfg::kDmaRead, 3, kTarget), 0u);
  EXPECT_EQ(guest(kTarget, 3), bytes("456"));
  EXPECT_EQ(dma(fw_cfg::kDmaSkip, 100, 0), 0u);  // past the end: clamps
  EXPECT_EQ(read_data(1), (std::vector<uint8_t>{0}));
}

TEST_F(FwCfgTest, DmaSelectAloneSelectsAndTransfersNothing) {
  dev.set_item(fw_cfg::kSetupData, bytes("xy"));
  ASSERT_TRUE(mem.fill(kTarget, 0xee, 4));
  EXPECT_EQ(dma((uint32_t{fw_cfg::kSetupData} << 16) | fw_cfg::kDmaSelect, 4, kTarget), 0u);
  EXPECT_EQ(guest(kTarget, 4), std::vector<uint8_t>(4, 0xee));
  EXPECT_EQ(read_data(2), bytes("xy"));
}

TEST_F(FwCfgTest, DmaWriteIsRefusedWithTheErrorBit) {
  dev.set_item(fw_cfg::kSetupData, bytes("keep"));
  ASSERT_TRUE(mem.write(kTarget, bytes("evil")));
  EXPECT_EQ(dma((uint32_t{fw_cfg::kSetupData} << 16) | fw_cfg::kDmaSelect | fw_cfg::kDmaWrite, 4, kTarget),
            fw_cfg::kDmaError);
  EXPECT_EQ(read_item(fw_cfg::kSetupData, 4), bytes("keep"));
}

TEST_F(FwCfgTest, DmaReadToABadAddressSetsTheErrorBitAndWritesNothing) {
  dev.set_item(fw_cfg::kInitrdData, std::vector<uint8_t>(64, 0xab));
  // Straddles the end of low RAM: the in-RAM part must stay untouched.
  ASSERT_TRUE(mem.fill(kRamBytes - 16, 0x5a, 16));
  EXPECT_EQ(dma(read_select(fw_cfg::kInitrdData), 64, kRamBytes - 16), fw_cfg::kDmaError);
  EXPECT_EQ(guest(kRamBytes - 16, 16), std::vector<uint8_t>(16, 0x5a));
  // Entirely outside RAM, and wrapping around the address space.
  EXPECT_EQ(dma(read_select(fw_cfg::kInitrdData), 64, 0x80000000), fw_cfg::kDmaError);
  EXPECT_EQ(dma(read_select(fw_cfg::kInitrdData), 64, ~uint64_t{0} - 8), fw_cfg::kDmaError);
  // A zero-fill past the item's end is checked the same way.
  EXPECT_EQ(dma(read_select(fw_cfg::kInitrdData), 4096, kRamBytes - 16), fw_cfg::kDmaError);
  EXPECT_EQ(guest(kRamBytes - 16, 16), std::vector<uint8_t>(16, 0x5a));
  // The device keeps working afterwards.
  EXPECT_EQ(dma(read_select(fw_cfg::kInitrdData), 2, kTarget), 0u);
  EXPECT_EQ(guest(kTarget, 2), (std::vector<uint8_t>{0xab, 0xab}));
}

TEST_F(FwCfgTest, DmaAccessStructureOutsideRamIsIgnoredOrReportedWhereItCanBe) {
  dev.set_item(fw_cfg::kInitrdData, std::vector<uint8_t>(8, 0xab));
  // Wholly outside RAM: nothing to read, nothing written, no crash.
  kick(0x90000000);
  // Half in RAM: the control word (in RAM) gets the error bit, nothing else changes.
  ASSERT_TRUE(mem.fill(kRamBytes - 8, 0, 8));
  kick(kRamBytes - 8);
  EXPECT_EQ(get_be32(guest(kRamBytes - 8, 4)), fw_cfg::kDmaError);
  EXPECT_EQ(guest(kRamBytes - 4, 4), std::vector<uint8_t>(4, 0));
}

TEST_F(FwCfgTest, DmaUsesBothAddressHalvesAndResetsThemAfterEachTransfer) {
  dev.set_item(fw_cfg::kKernelData, bytes("high"));
  const uint64_t high_access = kHighRam + 0x100;
  EXPECT_EQ(dma(read_select(fw_cfg::kKernelData), 4, kHighRam + 0x200, high_access), 0u);
  std::vector<uint8_t> got(4);
  ASSERT_TRUE(mem.read(kHighRam + 0x200, got));
  EXPECT_EQ(got, bytes("high"));
  // A low-half write alone now addresses low RAM again.
  EXPECT_EQ(dma(read_select(fw_cfg::kKernelData), 4, kTarget), 0u);
  EXPECT_EQ(guest(kTarget, 4), bytes("high"));
}

TEST_F(FwCfgTest, DmaWithoutAnOperationOnlyClearsControl) { EXPECT_EQ(dma(0, 16, kTarget), 0u); }

}  // namespace
}  // namespace wren
