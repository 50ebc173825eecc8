#include "vmm/boot/aml.h"

#include <gtest/gtest.h>

namespace wren::aml {
namespace {

TEST(Aml, PkgLengthOneByteUpTo63) {
  // 62 bytes of body + 1 length byte = 63: still one byte.
  const auto one = with_pkg_length(Bytes(62, 0xaa));
  EXPECT_EQ(one.size(), 63u);
  EXPECT_EQ(one[0], 63);
  // 63 bytes of body needs two length bytes: total 65 = 0x41.
  const auto two = with_pkg_length(Bytes(63, 0xaa));
  ASSERT_EQ(two.size(), 65u);
  EXPECT_EQ(two[0], 0x40 | 0x1);  // one extra byte, low nibble 1
  EXPECT_EQ(two[1], 0x04);        // 0x41 >> 4
}

TEST(Aml, PkgLengthLargerEncodings) {
  // 4093 + 2 = 4095 fits two bytes; 4094 needs three.
  auto two = with_pkg_length(Bytes(4093, 0));
  EXPECT_EQ(two[0] >> 6, 1);
  EXPECT_EQ(((two[1] << 4) | (two[0] & 0xf)), 4095);
  auto three = with_pkg_length(Bytes(4094, 0));
  EXPECT_EQ(three[0] >> 6, 2);
  EXPECT_EQ((three[0] & 0xf) | (three[1] << 4) | (three[2] << 12), 4094 + 3);
  EXPECT_EQ(three.size(), 4094u + 3);
}

TEST(Aml, NameStrings) {
  EXPECT_EQ(name_string("_HID"), (Bytes{'_', 'H', 'I', 'D'}));
  EXPECT_EQ(name_string("_S5"), (Bytes{'_', 'S', '5', '_'}));
  EXPECT_EQ(name_string("\\_SB_"), (Bytes{'\\', '_', 'S', 'B', '_'}));
  EXPECT_EQ(name_string("\\_SB.PCI0"), (Bytes{'\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
  EXPECT_EQ(name_string("A.B.C"), (Bytes{0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'}));
  EXPECT_EQ(name_string("^^FOO"), (Bytes{'^', '^', 'F', 'O', 'O', '_'}));
  EXPECT_EQ(name_string("\\"), (Bytes{'\\', 0x00}));
  EXPECT_THROW(name_string("TOOLONG"), std::invalid_argument);
  EXPECT_THROW(name_string("1ABC"), std::invalid_argument);
  EXPECT_THROW(name_string("abcd"), std::invalid_argument);
  EXPECT_THROW(name_string("A..B"), std::invalid_argument);
  EXPECT_THROW(name_string(""), std::invalid_argument);
}

TEST(Aml, Integers) {
  EXPECT_EQ(integer(0), (Bytes{0x00}));
  EXPECT_EQ(integer(1), (Bytes{0x01}));
  EXPECT_EQ(integer(2), (Bytes{0x0a, 0x02}));
  EXPECT_EQ(integer(0xff), (Bytes{0x0a, 0xff}));
  EXPECT_EQ(integer(0x100), (Bytes{0x0b, 0x00, 0x01}));
  EXPECT_EQ(integer(0x1ffff), (Bytes{0x0c, 0xff, 0xff, 0x01, 0x00}));
  EXPECT_EQ(integer(0x100000000ull), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(Aml, StringsAndEisaIds) {
  EXPECT_EQ(string("AB"), (Bytes{0x0d, 'A', 'B', 0}));
  EXPECT_EQ(eisa_id_value("PNP0A03"), 0x030ad041u);
  EXPECT_EQ(eisa_id_value("PNP0A08"), 0x080ad041u);
  EXPECT_EQ(eisa_id_value("PNP0501"), 0x0105d041u);
  EXPECT_EQ(eisa_id("PNP0A03"), (Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x03}));
  EXPECT_THROW(eisa_id_value("pnp0a03"), std::invalid_argument);
  EXPECT_THROW(eisa_id_value("PNP0A0G"), std::invalid_argument);
}

// PkgLength counts its own bytes: iasl compiles Name(_S5, Package(4){5, 5, 0, 0})
// to 08 5F 53 35 5F 12 08 04 0A 05 0A 05 00 00.
TEST(Aml, MatchesIaslOutputForS5) {
  EXPECT_EQ(name("_S5", package({integer(5), integer(5), integer(0), integer(0)})),
            (Bytes{0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00}));
}

TEST(Aml, NamePackageDeviceScope) {
  EXPECT_EQ(name("_UID", integer(0)), (Bytes{0x08, '_', 'U', 'I', 'D', 0x00}));
  EXPECT_EQ(package({integer(5), integer(0)}), (Bytes{0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}));
  EXPECT_EQ(device("DEV0", {name("_UID", integer(1))}),
            (Bytes{0x5b, 0x82, 0x0b, 'D', 'E', 'V', '0', 0x08, '_', 'U', 'I', 'D', 0x01}));
  EXPECT_EQ(scope("\\_SB", {}), (Bytes{0x10, 0x06, '\\', '_', 'S', 'B', '_'}));
  EXPECT_THROW(package(std::vector<Bytes>(256, integer(0))), std::invalid_argument);
}

TEST(Aml, ResourceDescriptors) {
  // IO(Decode16, 0x3F8, 0x3F8, 1, 8), IRQNoFlags(){4}, end tag, in Buffer(15).
  const auto buf = ResourceTemplate().io(0x3f8, 0x3f8, 1, 8).irq_no_flags(4).build();
  EXPECT_EQ(buf, (Bytes{0x11, 0x10, 0x0a, 0x0d,                          // Buffer, PkgLength 16, size 13
                        0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,  // IO
                        0x22, 0x10, 0x00,                                // IRQNoFlags, mask bit 4
                        0x79, 0x00}));                                   // end tag
}

TEST(Aml, Memory32FixedMatchesIasl) {
  // Memory32Fixed(ReadOnly, 0xFED00000, 0x00000400)
  const auto buf = ResourceTemplate().memory32_fixed(false, 0xfed00000, 0x400).build();
  EXPECT_EQ(buf, (Bytes{0x11, 0x11, 0x0a, 0x0e,                                                  // Buffer, size 14
                        0x86, 0x09, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xfe, 0x00, 0x04, 0x00, 0x00,  // descriptor
                        0x79, 0x00}));
  EXPECT_EQ(ResourceTemplate().memory32_fixed(true, 0x1000, 0x10).build()[7], 0x01);  // ReadWrite
  EXPECT_THROW(ResourceTemplate().memory32_fixed(false, 0xfffff000, 0x2000), std::invalid_argument);
  EXPECT_THROW(ResourceTemplate().memory32_fixed(false, 0x1000, 0), std::invalid_argument);
}

TEST(Aml, AddressSpaceDescriptors) {
  const auto buf =
      ResourceTemplate().word_bus_number(0, 0xff).word_io(0xd00, 0xffff).dword_memory(0xc0000000, 0xdfffffff).build();
  const Bytes expected_desc = {
      // WordBusNumber: type 0x88, length 13, bus space, producer/min/max fixed, no type flags
      0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01,
      // WordIO 0xd00..0xffff, entire range, length 0xf300
      0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3,
      // DWordMemory 0xc0000000..0xdfffffff non-cacheable read/write, length 0x20000000
      0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x79, 0x00};
  ASSERT_EQ(buf.size(), 4 + expected_desc.size());  // BufferOp, 1-byte PkgLength, BytePrefix size
  EXPECT_EQ(Bytes(buf.end() - static_cast<long>(expected_desc.size()), buf.end()), expected_desc);
  EXPECT_THROW(ResourceTemplate().word_io(2, 1), std::invalid_argument);
  EXPECT_THROW(ResourceTemplate().irq_no_flags(16), std::invalid_argument);
}

}  // namespace
}  // namespace wren::aml
