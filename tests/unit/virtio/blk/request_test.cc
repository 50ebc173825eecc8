// blk::parse / parse_ranges as pure functions: every request type, and
// every malformed variant, before any I/O could happen.
#include "virtio/blk/request.h"

#include <gtest/gtest.h>

#include <vector>

namespace wren::blk {
namespace {

DiskLimits limits(uint64_t sectors = 2048) {
  DiskLimits l;
  l.capacity_sectors = sectors;
  l.flush = l.discard = l.write_zeroes = true;
  l.max_discard_sectors = l.max_write_zeroes_sectors = 1024;
  l.max_discard_segments = l.max_write_zeroes_segments = 4;
  return l;
}

Header hdr(uint32_t type, uint64_t sector = 0) { return Header{type, sector}; }
ChainShape shape(uint64_t readable, uint64_t writable) { return ChainShape{readable, writable}; }

std::vector<uint8_t> segment(uint64_t sector, uint32_t sectors, uint32_t flags) {
  std::vector<uint8_t> b(16);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(sector >> (8 * i));
  for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<uint8_t>(sectors >> (8 * i));
  for (int i = 0; i < 4; ++i) b[12 + i] = static_cast<uint8_t>(flags >> (8 * i));
  return b;
}

TEST(BlkHeader, DecodesLittleEndianTypeAndSector) {
  std::array<uint8_t, 16> raw{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
  const Header h = Header::decode(raw);
  EXPECT_EQ(h.type, 1u);
  EXPECT_EQ(h.sector, 0x0102030405060708ull);
}

// The request-type table: what each valid request becomes.
struct TypeCase {
  uint32_t type;
  ChainShape shape;
  RequestKind kind;
  uint64_t offset, length;
};

TEST(BlkRequest, EveryTypeParses) {
  const TypeCase cases[] = {
      {kTypeIn, shape(16, 4097), RequestKind::Read, 8 * 512, 4096},
      {kTypeOut, shape(16 + 1024, 1), RequestKind::Write, 8 * 512, 1024},
      {kTypeFlush, shape(16, 1), RequestKind::Flush, 0, 0},
      {kTypeGetId, shape(16, 21), RequestKind::GetId, 0, 20},
      {kTypeDiscard, shape(32, 1), RequestKind::Discard, 0, 0},
      {kTypeWriteZeroes, shape(48, 1), RequestKind::WriteZeroes, 0, 0},
  };
  for (const auto& c : cases) {
    const Parsed p = parse(hdr(c.type, 8), c.shape, limits());
    ASSERT_TRUE(p.ok()) << c.type << ": " << p.rejection.reason;
    EXPECT_EQ(p.request->kind, c.kind) << c.type;
    EXPECT_EQ(p.request->offset, c.offset) << c.type;
    EXPECT_EQ(p.request->length, c.length) << c.type;
  }
  EXPECT_EQ(parse(hdr(kTypeDiscard), shape(32, 1), limits()).request->segments, 1u);
  EXPECT_EQ(parse(hdr(kTypeWriteZeroes), shape(48, 1), limits()).request->segments, 2u);
}

TEST(BlkRequest, UnknownTypesAreUnsupported) {
  for (uint32_t type : {2u, 3u, 5u, 7u, 10u, 14u, 0x80000000u, 0xffffffffu}) {
    const Parsed p = parse(hdr(type), shape(16, 1), limits());
    ASSERT_FALSE(p.ok()) << type;
    EXPECT_EQ(p.rejection.status, kStatusUnsupp) << type;
  }
}

TEST(BlkRequest, ShapeNeedsHeaderAndStatus) {
  EXPECT_EQ(check_shape(shape(16, 0)), Malformed::NoStatus);
  EXPECT_EQ(check_shape(shape(15, 1)), Malformed::ShortHeader);
  EXPECT_EQ(check_shape(shape(0, 0)), Malformed::NoStatus);
  EXPECT_EQ(check_shape(shape(16, 1)), std::nullopt);
  EXPECT_FALSE(parse(hdr(kTypeIn), shape(15, 513), limits()).ok());
}

void expect_rejected(const Header& h, const ChainShape& s, const DiskLimits& l, uint8_t status) {
  const Parsed p = parse(h, s, l);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.rejection.status, status) << p.rejection.reason;
}

TEST(BlkRequest, DataDirectionMustMatchType) {
  expect_rejected(hdr(kTypeIn), shape(16 + 512, 513), limits(), kStatusIoErr);   // read carrying driver data
  expect_rejected(hdr(kTypeOut), shape(16 + 512, 513), limits(), kStatusIoErr);  // write with a device buffer
  expect_rejected(hdr(kTypeFlush), shape(16, 513), limits(), kStatusIoErr);
  expect_rejected(hdr(kTypeFlush), shape(16 + 512, 1), limits(), kStatusIoErr);
  expect_rejected(hdr(kTypeGetId), shape(32, 21), limits(), kStatusIoErr);
  expect_rejected(hdr(kTypeDiscard), shape(32, 17), limits(), kStatusIoErr);
}

TEST(BlkRequest, LengthsMustBeWholeBlocks) {
  expect_rejected(hdr(kTypeIn), shape(16, 512), limits(), kStatusIoErr);  // 511 data bytes
  expect_rejected(hdr(kTypeOut), shape(16 + 100, 1), limits(), kStatusIoErr);
  DiskLimits big = limits();
  big.block_size = 4096;
  expect_rejected(hdr(kTypeIn), shape(16, 513), big, kStatusIoErr);
  expect_rejected(hdr(kTypeIn, 1), shape(16, 4097), big, kStatusIoErr);  // sector not 4K aligned
  EXPECT_TRUE(parse(hdr(kTypeIn, 8), shape(16, 4097), big).ok());
}

TEST(BlkRequest, RangeMustLieInsideTheImage) {
  EXPECT_TRUE(parse(hdr(kTypeIn, 2047), shape(16, 513), limits()).ok());  // the last sector
  expect_rejected(hdr(kTypeIn, 2047), shape(16, 1025), limits(), kStatusIoErr);
  expect_rejected(hdr(kTypeIn, 2048), shape(16, 513), limits(), kStatusIoErr);
  EXPECT_TRUE(parse(hdr(kTypeIn, 2048), shape(16, 1), limits()).ok());  // empty read at the end
  expect_rejected(hdr(kTypeOut, 4096), shape(16 + 512, 1), limits(), kStatusIoErr);
}

TEST(BlkRequest, SectorTimes512OverflowIsRefused) {
  // sector * 512 wraps to a small offset: must not be mistaken for one.
  const uint64_t wraps = (UINT64_MAX / 512) + 1;  // * 512 == 0 mod 2^64
  expect_rejected(hdr(kTypeIn, wraps), shape(16, 513), limits(), kStatusIoErr);
  expect_rejected(hdr(kTypeOut, UINT64_MAX), shape(16 + 512, 1), limits(), kStatusIoErr);
  // A huge image: offset + length overflowing 2^64 is refused too.
  DiskLimits huge = limits(UINT64_MAX / 512);
  expect_rejected(hdr(kTypeIn, UINT64_MAX / 512), shape(16, 1 + 4096), huge, kStatusIoErr);
}

TEST(BlkRequest, ReadOnlyDiskRefusesEveryWrite) {
  DiskLimits ro = limits();
  ro.read_only = true;
  expect_rejected(hdr(kTypeOut), shape(16 + 512, 1), ro, kStatusIoErr);
  expect_rejected(hdr(kTypeDiscard), shape(32, 1), ro, kStatusIoErr);
  expect_rejected(hdr(kTypeWriteZeroes), shape(32, 1), ro, kStatusIoErr);
  EXPECT_TRUE(parse(hdr(kTypeIn), shape(16, 513), ro).ok());
}

TEST(BlkRequest, FeaturesNotNegotiatedAreUnsupported) {
  DiskLimits none = limits();
  none.flush = none.discard = none.write_zeroes = false;
  expect_rejected(hdr(kTypeFlush), shape(16, 1), none, kStatusUnsupp);
  expect_rejected(hdr(kTypeDiscard), shape(32, 1), none, kStatusUnsupp);
  expect_rejected(hdr(kTypeWriteZeroes), shape(32, 1), none, kStatusUnsupp);
}

TEST(BlkRequest, GetIdBufferShorterThan20IsRefused) {
  expect_rejected(hdr(kTypeGetId), shape(16, 20), limits(), kStatusIoErr);  // 19 bytes + status
  EXPECT_TRUE(parse(hdr(kTypeGetId), shape(16, 21), limits()).ok());
  EXPECT_TRUE(parse(hdr(kTypeGetId), shape(16, 512), limits()).ok());
}

TEST(BlkRequest, SegmentTablesOfBadLengthAreRefused) {
  expect_rejected(hdr(kTypeDiscard), shape(16, 1), limits(), kStatusIoErr);           // no segment
  expect_rejected(hdr(kTypeDiscard), shape(16 + 15, 1), limits(), kStatusIoErr);      // partial segment
  expect_rejected(hdr(kTypeDiscard), shape(16 + 5 * 16, 1), limits(), kStatusIoErr);  // > max segments
  EXPECT_TRUE(parse(hdr(kTypeDiscard), shape(16 + 4 * 16, 1), limits()).ok());
}

TEST(BlkRanges, ValidSegments) {
  auto t = segment(8, 16, 0);
  auto t2 = segment(100, 8, kWriteZeroesFlagUnmap);
  t.insert(t.end(), t2.begin(), t2.end());
  const auto r = parse_ranges(RequestKind::WriteZeroes, t, limits());
  ASSERT_FALSE(r.rejection);
  ASSERT_EQ(r.ranges.size(), 2u);
  EXPECT_EQ(r.ranges[0], (Range{8 * 512, 16 * 512, false}));
  EXPECT_EQ(r.ranges[1], (Range{100 * 512, 8 * 512, true}));
}

TEST(BlkRanges, FlagsDiscardHasNoneWriteZeroesOnlyUnmap) {
  auto r = parse_ranges(RequestKind::Discard, segment(0, 8, kWriteZeroesFlagUnmap), limits());
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.rejection->status, kStatusUnsupp);
  r = parse_ranges(RequestKind::WriteZeroes, segment(0, 8, 2), limits());
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.rejection->status, kStatusUnsupp);
  r = parse_ranges(RequestKind::WriteZeroes, segment(0, 8, 0x80000001u), limits());
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.rejection->status, kStatusUnsupp);
}

TEST(BlkRanges, OutOfRangeAndOversizedSegmentsAreRefused) {
  for (const auto& seg : {segment(2040, 16, 0),                 // past the end
                          segment(0, 1025, 0),                  // more than max sectors
                          segment(UINT64_MAX / 512 + 1, 8, 0),  // sector * 512 wraps
                          segment(UINT64_MAX, 1, 0)}) {
    const auto r = parse_ranges(RequestKind::Discard, seg, limits());
    ASSERT_TRUE(r.rejection);
    EXPECT_EQ(r.rejection->status, kStatusIoErr);
    EXPECT_TRUE(r.ranges.empty());
  }
  // One bad segment refuses the whole request.
  auto t = segment(0, 8, 0);
  auto bad = segment(5000, 8, 0);
  t.insert(t.end(), bad.begin(), bad.end());
  EXPECT_TRUE(parse_ranges(RequestKind::Discard, t, limits()).rejection);
  // Misaligned to a 4K block size.
  DiskLimits big = limits();
  big.block_size = 4096;
  EXPECT_TRUE(parse_ranges(RequestKind::Discard, segment(1, 8, 0), big).rejection);
  EXPECT_TRUE(parse_ranges(RequestKind::Discard, segment(8, 4, 0), big).rejection);
}

TEST(BlkRanges, ZeroLengthSegmentsAreSkipped) {
  const auto r = parse_ranges(RequestKind::Discard, segment(0, 0, 0), limits());
  EXPECT_FALSE(r.rejection);
  EXPECT_TRUE(r.ranges.empty());
}

TEST(BlkId, SerialIsTruncatedAndPadded) {
  const auto a = id_bytes("abc");
  EXPECT_EQ(a[0], 'a');
  EXPECT_EQ(a[3], 0);
  EXPECT_EQ(a[19], 0);
  const auto b = id_bytes("0123456789abcdefghijXYZ");
  EXPECT_EQ(b[19], 'j');
}

}  // namespace
}  // namespace wren::blk
