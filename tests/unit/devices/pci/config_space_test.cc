#include "devices/pci/config_space.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "devices/pci/registers.h"
#include "hypervisor/little_endian.h"

namespace wren::pci {
namespace {

PciIdentity test_identity() {
  return PciIdentity{.vendor_id = 0x1af4,
                     .device_id = 0x1041,
                     .subsystem_vendor_id = 0x1af4,
                     .subsystem_id = 0x1100,
                     .revision = 1,
                     .class_code = 0x020000,
                     .interrupt_pin = 1};
}

void write32(PciConfigSpace& c, uint16_t off, uint32_t v) {
  uint8_t b[4];
  store_le(b, v);
  c.write(off, b);
}
uint32_t read32(const PciConfigSpace& c, uint16_t off) {
  uint8_t b[4];
  c.read(off, b);
  return static_cast<uint32_t>(load_le(b));
}

TEST(PciConfigSpace, IdentityFieldsAreReadOnly) {
  PciConfigSpace c(test_identity());
  EXPECT_EQ(read32(c, 0), 0x10411af4u);
  EXPECT_EQ(read32(c, 0x08), 0x02000001u);  // class 02 00 00, revision 1
  EXPECT_EQ(read32(c, 0x2c), 0x11001af4u);
  EXPECT_EQ(c.read8(kInterruptPin), 1);
  write32(c, 0, 0xffffffff);
  write32(c, 0x08, 0xffffffff);
  write32(c, 0x2c, 0);
  const uint8_t pin = 3;
  c.write(kInterruptPin, std::span(&pin, 1));
  EXPECT_EQ(read32(c, 0), 0x10411af4u);
  EXPECT_EQ(read32(c, 0x08), 0x02000001u);
  EXPECT_EQ(read32(c, 0x2c), 0x11001af4u);
  EXPECT_EQ(c.read8(kInterruptPin), 1);
}

TEST(PciConfigSpace, CommandHasOnlyDefinedWritableBits) {
  PciConfigSpace c(test_identity());
  const uint8_t ones[2] = {0xff, 0xff};
  c.write(kCommand, ones);
  EXPECT_EQ(c.command(),
            kCommandIo | kCommandMemory | kCommandBusMaster | kCommandParity | kCommandSerr | kCommandIntxDisable);
  EXPECT_TRUE(c.memory_enabled());
  EXPECT_TRUE(c.io_enabled());
  EXPECT_TRUE(c.intx_disabled());
  // Byte write to the high byte only touches that byte.
  const uint8_t zero = 0;
  c.write(kCommand + 1, std::span(&zero, 1));
  EXPECT_FALSE(c.intx_disabled());
  EXPECT_TRUE(c.memory_enabled());
}

TEST(PciConfigSpace, StatusErrorBitsAreWriteOneToClearAndOthersReadOnly) {
  PciConfigSpace c(test_identity());
  c.set16(kStatus, 0xf900 | kStatusInterrupt);
  const uint8_t clear_some[2] = {0x00, 0x80};  // clear bit 15 only
  c.write(kStatus, clear_some);
  EXPECT_EQ(c.read16(kStatus), 0x7900 | kStatusInterrupt);
  const uint8_t ones[2] = {0xff, 0xff};
  c.write(kStatus, ones);
  EXPECT_EQ(c.read16(kStatus), kStatusInterrupt);  // interrupt status is read-only
}

TEST(PciConfigSpace, Memory32BarSizing) {
  PciConfigSpace c(test_identity());
  c.declare_bar(1, BarSpec{BarKind::kMemory32, 0x1000, false});
  EXPECT_EQ(read32(c, bar_register(1)), 0u);
  write32(c, bar_register(1), 0xffffffff);
  EXPECT_EQ(read32(c, bar_register(1)), 0xfffff000u);
  write32(c, bar_register(1), 0xc0001234);
  EXPECT_EQ(read32(c, bar_register(1)), 0xc0001000u);
  EXPECT_EQ(c.bar_address(1), 0xc0001000u);
}

TEST(PciConfigSpace, PrefetchableFlagIsReadOnly) {
  PciConfigSpace c(test_identity());
  c.declare_bar(0, BarSpec{BarKind::kMemory32, 0x100, true});
  write32(c, bar_register(0), 0);
  EXPECT_EQ(read32(c, bar_register(0)), kBarPrefetchable);
  write32(c, bar_register(0), 0xffffffff);
  EXPECT_EQ(read32(c, bar_register(0)), 0xffffff00u | kBarPrefetchable);
}

TEST(PciConfigSpace, Memory64BarSizing) {
  PciConfigSpace c(test_identity());
  c.declare_bar(4, BarSpec{BarKind::kMemory64, 0x4000, false});
  EXPECT_EQ(read32(c, bar_register(4)), kBarMem64);
  write32(c, bar_register(4), 0xffffffff);
  write32(c, bar_register(5), 0xffffffff);
  EXPECT_EQ(read32(c, bar_register(4)), 0xffffc000u | kBarMem64);
  EXPECT_EQ(read32(c, bar_register(5)), 0xffffffffu);
  write32(c, bar_register(4), 0xc0004000);
  write32(c, bar_register(5), 0x1);
  EXPECT_EQ(c.bar_address(4), 0x1c0004000u);
  EXPECT_FALSE(c.bar_spec(5).has_value());  // upper half is not a BAR of its own
}

TEST(PciConfigSpace, LargeMemory64BarMasksUpperHalf) {
  PciConfigSpace c(test_identity());
  c.declare_bar(2, BarSpec{BarKind::kMemory64, uint64_t{8} << 30, true});  // 8 GiB
  write32(c, bar_register(2), 0xffffffff);
  write32(c, bar_register(3), 0xffffffff);
  EXPECT_EQ(read32(c, bar_register(2)), kBarMem64 | kBarPrefetchable);
  EXPECT_EQ(read32(c, bar_register(3)), 0xfffffffeu);
}

TEST(PciConfigSpace, IoBarSizing) {
  PciConfigSpace c(test_identity());
  c.declare_bar(0, BarSpec{BarKind::kIo, 0x40, false});
  EXPECT_EQ(read32(c, bar_register(0)), kBarIoSpace);
  write32(c, bar_register(0), 0xffffffff);
  // Every address bit above the size is writable (as on QEMU; SeaBIOS sizes
  // over 32 bits); size = lowest set address bit.
  EXPECT_EQ(read32(c, bar_register(0)), 0xffffffc1u);
  write32(c, bar_register(0), 0xc043);
  EXPECT_EQ(c.bar_address(0), 0xc040u);
}

TEST(PciConfigSpace, UndeclaredBarsAndRomReadZeroAndIgnoreWrites) {
  PciConfigSpace c(test_identity());
  for (int i = 0; i < kNumBars; ++i) {
    write32(c, bar_register(i), 0xffffffff);
    EXPECT_EQ(read32(c, bar_register(i)), 0u) << i;
  }
  write32(c, kExpansionRom, 0xffffffff);
  EXPECT_EQ(read32(c, kExpansionRom), 0u);
}

TEST(PciConfigSpace, BadBarDeclarationsThrow) {
  PciConfigSpace c(test_identity());
  EXPECT_THROW(c.declare_bar(5, BarSpec{BarKind::kMemory64, 0x1000, false}), std::invalid_argument);
  EXPECT_THROW(c.declare_bar(0, BarSpec{BarKind::kMemory32, 0x1800, false}), std::invalid_argument);
  EXPECT_THROW(c.declare_bar(0, BarSpec{BarKind::kIo, 512, false}), std::invalid_argument);
  EXPECT_THROW(c.declare_bar(6, BarSpec{BarKind::kMemory32, 0x1000, false}), std::invalid_argument);
  c.declare_bar(0, BarSpec{BarKind::kMemory64, 0x1000, false});
  EXPECT_THROW(c.declare_bar(1, BarSpec{BarKind::kMemory32, 0x1000, false}), std::invalid_argument);
}

TEST(PciConfigSpace, CapabilityListWalk) {
  PciConfigSpace c(test_identity());
  EXPECT_FALSE(c.read16(kStatus) & kStatusCapList);
  const uint8_t body_a[6] = {1, 2, 3, 4, 5, 6};
  const uint8_t body_b[1] = {9};
  const uint8_t body_c[14] = {};
  const uint8_t a = c.add_capability(0x09, body_a);
  const uint8_t b = c.add_capability(0x11, body_b);
  const uint8_t cc = c.add_capability(0x09, body_c);
  EXPECT_TRUE(c.read16(kStatus) & kStatusCapList);

  std::vector<std::pair<uint8_t, uint8_t>> walked;  // (offset, id)
  std::set<uint8_t> seen;
  for (uint8_t p = c.read8(kCapabilitiesPointer); p != 0; p = c.read8(p + 1)) {
    ASSERT_TRUE(seen.insert(p).second) << "loop";
    EXPECT_EQ(p % 4, 0);
    EXPECT_GE(p, 0x40);
    walked.emplace_back(p, c.read8(p));
  }
  ASSERT_EQ(walked.size(), 3u);
  EXPECT_EQ(walked[0], std::make_pair(a, uint8_t{0x09}));
  EXPECT_EQ(walked[1], std::make_pair(b, uint8_t{0x11}));
  EXPECT_EQ(walked[2], std::make_pair(cc, uint8_t{0x09}));
  EXPECT_EQ(c.read8(a + 2), 1);
  EXPECT_EQ(c.read8(a + 7), 6);
  // Capabilities are read-only unless a mask says otherwise, including the next pointers.
  const uint8_t junk[4] = {0xaa, 0xbb, 0xcc, 0xdd};
  c.write(a, junk);
  EXPECT_EQ(c.read8(a), 0x09);
  EXPECT_EQ(c.read8(a + 1), b);
}

TEST(PciConfigSpace, CapabilityWriteMask) {
  PciConfigSpace c(test_identity());
  const uint8_t body[2] = {0x00, 0x00};
  const uint8_t mask[2] = {0x0f, 0x00};
  const uint8_t at = c.add_capability(0x09, body, mask);
  const uint8_t ones[2] = {0xff, 0xff};
  c.write(at + 2, ones);
  EXPECT_EQ(c.read8(at + 2), 0x0f);
  EXPECT_EQ(c.read8(at + 3), 0x00);
}

TEST(PciConfigSpace, CapabilitySpaceExhaustionThrows) {
  PciConfigSpace c(test_identity());
  std::vector<uint8_t> big(60, 0);
  EXPECT_NO_THROW(c.add_capability(0x09, big));  // 0x40..0x7e
  EXPECT_NO_THROW(c.add_capability(0x09, big));  // 0x80..
  EXPECT_NO_THROW(c.add_capability(0x09, big));  // 0xc0..0xfe
  EXPECT_THROW(c.add_capability(0x09, big), std::length_error);
}

TEST(PciConfigSpace, OutOfRangeAccessesAreSafe) {
  PciConfigSpace c(test_identity());
  uint8_t out[4] = {};
  c.read(4094, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[2], 0xff);
  EXPECT_EQ(out[3], 0xff);
  c.read(UINT64_MAX - 1, out);
  EXPECT_EQ(out[0], 0xff);
  const uint8_t in[4] = {1, 2, 3, 4};
  c.write(4094, in);
  c.write(UINT64_MAX - 1, in);
  // Extended space exists (ECAM) and is all zero: no extended capabilities.
  EXPECT_EQ(read32(c, 0x100), 0u);
}

TEST(PciConfigSpace, ResetRestoresPowerOnImage) {
  PciConfigSpace c(test_identity());
  c.declare_bar(0, BarSpec{BarKind::kMemory32, 0x1000, false});
  c.capture_power_on_state();
  write32(c, bar_register(0), 0xc0000000);
  const uint8_t cmd[2] = {0x07, 0x00};
  c.write(kCommand, cmd);
  c.reset();
  EXPECT_EQ(c.bar_address(0), 0u);
  EXPECT_EQ(c.command(), 0);
}

TEST(PciConfigSpace, RestoreBytesOnlyTakesGuestWritableBits) {
  PciConfigSpace c(test_identity());
  c.declare_bar(1, BarSpec{BarKind::kMemory32, 0x1000, false});
  std::vector<uint8_t> image(c.bytes().begin(), c.bytes().end());
  image[0] = 0x00;                                                     // vendor id: read-only
  store_le(std::span(image).subspan(bar_register(1), 4), 0xd0000fff);  // low bits read-only
  image[kCommand] = 0x06;
  EXPECT_FALSE(c.restore_bytes(std::span(image).first(100)));
  ASSERT_TRUE(c.restore_bytes(image));
  EXPECT_EQ(c.read16(kVendorId), 0x1af4);
  EXPECT_EQ(c.bar_address(1), 0xd0000000u);
  EXPECT_EQ(c.command(), 0x06);
}

}  // namespace
}  // namespace wren::pci
