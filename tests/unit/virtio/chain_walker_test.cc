// Every descriptor-chain rule of virtio/descriptor_chain.h, each with a chain
// that breaks exactly that rule.
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "unit/virtio/fake_driver.h"
#include "virtio/descriptor_chain.h"

namespace wren {
namespace {

namespace sr = split_ring;
constexpr uint64_t kRam = 0x100000;  // 1 MiB
constexpr uint16_t kSize = 16;

class ChainTest : public ::testing::Test {
 protected:
  ChainResult parse(uint16_t head) { return DescriptorChain::parse(mem, drv.desc_addr(), kSize, head); }
  ChainError parse_error(uint16_t head) {
    ChainResult r = parse(head);
    EXPECT_TRUE(r.is_error());
    return r.is_error() ? r.error() : ChainError::RingOutOfRange;
  }
  std::vector<uint8_t> pattern(size_t n, uint8_t start) {
    std::vector<uint8_t> v(n);
    std::iota(v.begin(), v.end(), start);
    return v;
  }

  GuestMemory mem{{{0, kRam}}};
  FakeDriver drv{mem, kSize};
};

TEST_F(ChainTest, DirectChainSplitsReadableAndWritable) {
  const auto a = pattern(10, 0), b = pattern(6, 100);
  const uint64_t ga = drv.put_bytes(a), gb = drv.put_bytes(b);
  const uint64_t w1 = drv.alloc(4), w2 = drv.alloc(8);
  const uint16_t head =
      drv.add_chain(std::vector<FakeBuffer>{{ga, 10, false}, {gb, 6, false}, {w1, 4, true}, {w2, 8, true}});

  ChainResult r = parse(head);
  ASSERT_TRUE(r.has_chain());
  const DescriptorChain& c = r.chain();
  EXPECT_EQ(c.head(), head);
  EXPECT_EQ(c.descriptor_count(), 4u);
  ASSERT_EQ(c.readable().size(), 2u);
  ASSERT_EQ(c.writable().size(), 2u);
  EXPECT_EQ(c.readable()[0], (GuestBuffer{ga, 10}));
  EXPECT_EQ(c.readable()[1], (GuestBuffer{gb, 6}));
  EXPECT_EQ(c.writable()[0], (GuestBuffer{w1, 4}));
  EXPECT_EQ(c.writable()[1], (GuestBuffer{w2, 8}));
  EXPECT_EQ(c.readable_len(), 16u);
  EXPECT_EQ(c.writable_len(), 12u);

  auto all = c.read_all(mem);
  ASSERT_TRUE(all);
  std::vector<uint8_t> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  EXPECT_EQ(*all, expected);
}

TEST_F(ChainTest, ReadAtCrossesBuffersAndStopsAtEnd) {
  const uint64_t ga = drv.put_bytes(pattern(4, 0)), gb = drv.put_bytes(pattern(4, 4));
  ChainResult r = parse(drv.add_chain(std::vector<FakeBuffer>{{ga, 4, false}, {gb, 4, false}}));
  ASSERT_TRUE(r.has_chain());
  std::vector<uint8_t> out(4, 0xee);
  EXPECT_EQ(r->read_at(mem, 2, out), 4u);
  EXPECT_EQ(out, (std::vector<uint8_t>{2, 3, 4, 5}));
  EXPECT_EQ(r->read_at(mem, 6, out), 2u);  // only 2 bytes left
  EXPECT_EQ(out[0], 6);
  EXPECT_EQ(out[1], 7);
  EXPECT_EQ(r->read_at(mem, 8, out), 0u);
  EXPECT_EQ(r->read_at(mem, UINT64_MAX, out), 0u);
}

TEST_F(ChainTest, WriteAtCrossesBuffersMarksDirtyAndStopsAtEnd) {
  const uint64_t w1 = drv.alloc(3), w2 = drv.alloc(5, 4096);  // w2 on its own page
  ChainResult r = parse(drv.add_chain(std::vector<FakeBuffer>{{w1, 3, true}, {w2, 5, true}}));
  ASSERT_TRUE(r.has_chain());
  (void)mem.take_dirty_bitmap(0);
  const auto data = pattern(10, 1);
  EXPECT_EQ(r->write_at(mem, 1, data), 7u);  // 2 bytes in w1, 5 in w2, 3 do not fit
  EXPECT_EQ(drv.get_bytes(w1, 3), (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(drv.get_bytes(w2, 5), (std::vector<uint8_t>{3, 4, 5, 6, 7}));
  const auto dirty = mem.take_dirty_bitmap(0);
  EXPECT_TRUE(dirty[(w2 / 4096) / 64] & (uint64_t{1} << ((w2 / 4096) % 64)));
  EXPECT_EQ(r->write_at(mem, 8, data), 0u);
}

TEST_F(ChainTest, SlicesCoverTheRequestedRangeAndMarkWritableDirty) {
  const uint64_t r1 = drv.alloc(8), w1 = drv.alloc(8), w2 = drv.alloc(8, 4096);
  ChainResult r = parse(drv.add_chain(std::vector<FakeBuffer>{{r1, 8, false}, {w1, 8, true}, {w2, 8, true}}));
  ASSERT_TRUE(r.has_chain());

  (void)mem.take_dirty_bitmap(0);
  auto rs = r->readable_slices(mem);
  ASSERT_TRUE(rs);
  ASSERT_EQ(rs->size(), 1u);
  EXPECT_EQ((*rs)[0].size(), 8u);
  for (uint64_t w : mem.take_dirty_bitmap(0)) EXPECT_EQ(w, 0u) << "readable slices must not dirty pages";

  auto ws = r->writable_slices(mem, 6, 4);  // last 2 bytes of w1, first 2 of w2
  ASSERT_TRUE(ws);
  ASSERT_EQ(ws->size(), 2u);
  EXPECT_EQ((*ws)[0].size(), 2u);
  EXPECT_EQ((*ws)[1].size(), 2u);
  (*ws)[1][0] = 0xab;
  EXPECT_EQ(drv.get_bytes(w2, 1)[0], 0xab);
  const auto dirty = mem.take_dirty_bitmap(0);
  EXPECT_TRUE(dirty[(w2 / 4096) / 64] & (uint64_t{1} << ((w2 / 4096) % 64)));

  auto past = r->writable_slices(mem, 16);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->empty());
}

TEST(ChainSlices, SplitAtGuestMemoryRegionBoundary) {
  GuestMemory mem{{{0, 0x10000}, {0x10000, 0x10000}}};  // two adjacent regions
  FakeDriver drv{mem, 4, 0x1000};
  const uint16_t head = drv.add_chain(std::vector<FakeBuffer>{{0xff00, 0x200, true}});
  ChainResult r = DescriptorChain::parse(mem, drv.desc_addr(), 4, head);
  ASSERT_TRUE(r.has_chain());
  auto ws = r->writable_slices(mem);
  ASSERT_TRUE(ws);
  ASSERT_EQ(ws->size(), 2u);
  EXPECT_EQ((*ws)[0].size(), 0x100u);
  EXPECT_EQ((*ws)[1].size(), 0x100u);
}

TEST_F(ChainTest, IndirectChain) {
  const uint64_t ga = drv.put_bytes(pattern(5, 7)), w = drv.alloc(9);
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{ga, 5, false}, {w, 9, true}});
  ChainResult r = parse(head);
  ASSERT_TRUE(r.has_chain());
  EXPECT_EQ(r->head(), head);
  EXPECT_EQ(r->descriptor_count(), 3u);  // the pointer plus two table entries
  ASSERT_EQ(r->readable().size(), 1u);
  ASSERT_EQ(r->writable().size(), 1u);
  EXPECT_EQ(r->readable()[0], (GuestBuffer{ga, 5}));
  EXPECT_EQ(r->writable()[0], (GuestBuffer{w, 9}));
  EXPECT_EQ(*r->read_all(mem), pattern(5, 7));
}

TEST_F(ChainTest, IndirectTableMayEndADirectChain) {
  const uint64_t ga = drv.alloc(4), w = drv.alloc(4);
  const uint16_t inner = drv.add_indirect_chain(std::vector<FakeBuffer>{{w, 4, true}});
  const uint16_t head = drv.add_chain(std::vector<FakeBuffer>{{ga, 4, false}});
  auto d = drv.read_desc(head);
  d.flags |= sr::kDescNext;
  d.next = inner;
  drv.write_desc(head, d);
  ChainResult r = parse(head);
  ASSERT_TRUE(r.has_chain());
  EXPECT_EQ(r->readable_len(), 4u);
  EXPECT_EQ(r->writable_len(), 4u);
}

TEST_F(ChainTest, IndirectPointerWriteFlagIsIgnored) {
  const uint64_t ga = drv.alloc(4);
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{ga, 4, false}});
  auto d = drv.read_desc(head);
  d.flags |= sr::kDescWrite;
  drv.write_desc(head, d);
  ChainResult r = parse(head);
  ASSERT_TRUE(r.has_chain());
  EXPECT_EQ(r->readable_len(), 4u);
}

TEST_F(ChainTest, HeadOutOfRange) {
  EXPECT_EQ(parse_error(kSize), ChainError::IndexOutOfRange);
  EXPECT_EQ(parse_error(0xffff), ChainError::IndexOutOfRange);
}

TEST_F(ChainTest, NextOutOfRange) {
  const uint16_t head = drv.add_chain(std::vector<FakeBuffer>{{0x100, 4, false}, {0x200, 4, false}});
  auto d = drv.read_desc(head);
  d.next = kSize;
  drv.write_desc(head, d);
  EXPECT_EQ(parse_error(head), ChainError::IndexOutOfRange);
}

TEST_F(ChainTest, IndirectNextOutOfRange) {
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{0x100, 4, false}, {0x200, 4, false}});
  const uint64_t table = drv.read_desc(head).addr;
  sr::Descriptor e{0x100, 4, sr::kDescNext, 2};  // table has 2 entries
  ASSERT_TRUE(mem.write_obj(table, e));
  EXPECT_EQ(parse_error(head), ChainError::IndexOutOfRange);
}

TEST_F(ChainTest, LoopABADetected) {
  drv.write_desc(3, {0x100, 4, sr::kDescNext, 5});
  drv.write_desc(5, {0x200, 4, sr::kDescNext, 3});
  EXPECT_EQ(parse_error(3), ChainError::Loop);
}

TEST_F(ChainTest, SelfLoopDetected) {
  drv.write_desc(0, {0x100, 4, sr::kDescNext, 0});
  EXPECT_EQ(parse_error(0), ChainError::Loop);
}

TEST_F(ChainTest, LoopInsideIndirectTableDetected) {
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{0x100, 4, false}, {0x200, 4, false}});
  const uint64_t table = drv.read_desc(head).addr;
  ASSERT_TRUE(mem.write_obj(table + 16, sr::Descriptor{0x200, 4, sr::kDescNext, 0}));
  EXPECT_EQ(parse_error(head), ChainError::Loop);
}

TEST_F(ChainTest, ChainUsingEveryDescriptorIsNotALoop) {
  std::vector<FakeBuffer> bufs(kSize, FakeBuffer{0x100, 1, false});
  const uint16_t head = drv.add_chain(bufs);
  ChainResult r = parse(head);
  ASSERT_TRUE(r.has_chain());
  EXPECT_EQ(r->descriptor_count(), kSize);
  EXPECT_EQ(r->readable_len(), kSize);
}

TEST_F(ChainTest, NestedIndirectRejected) {
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{0x100, 4, false}});
  const uint64_t table = drv.read_desc(head).addr;
  const uint64_t inner = drv.alloc(16);
  ASSERT_TRUE(mem.write_obj(inner, sr::Descriptor{0x100, 4, 0, 0}));
  ASSERT_TRUE(mem.write_obj(table, sr::Descriptor{inner, 16, sr::kDescIndirect, 0}));
  EXPECT_EQ(parse_error(head), ChainError::NestedIndirect);
}

TEST_F(ChainTest, IndirectWithNextRejected) {
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{0x100, 4, false}});
  auto d = drv.read_desc(head);
  d.flags |= sr::kDescNext;
  d.next = 1;
  drv.write_desc(head, d);
  EXPECT_EQ(parse_error(head), ChainError::IndirectWithNext);
}

TEST_F(ChainTest, IndirectLengthMustBeNonZeroMultipleOf16) {
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{0x100, 4, false}, {0x200, 4, false}});
  auto d = drv.read_desc(head);
  for (uint32_t len : {0u, 8u, 17u, 24u, 31u}) {
    d.len = len;
    drv.write_desc(head, d);
    EXPECT_EQ(parse_error(head), ChainError::BadIndirectLength) << "len " << len;
  }
}

TEST_F(ChainTest, IndirectTableSizeCap) {
  const uint64_t table = drv.alloc(16 * (DescriptorChain::kMaxIndirectEntries + 1));  // zeroed: entry 0 ends the chain
  drv.write_desc(0, {table, 16 * DescriptorChain::kMaxIndirectEntries, sr::kDescIndirect, 0});
  EXPECT_TRUE(parse(0).has_chain());
  drv.write_desc(0, {table, 16 * (DescriptorChain::kMaxIndirectEntries + 1), sr::kDescIndirect, 0});
  EXPECT_EQ(parse_error(0), ChainError::IndirectTableTooLarge);
}

TEST_F(ChainTest, IndirectTableOutsideRam) {
  drv.write_desc(0, {kRam, 16, sr::kDescIndirect, 0});
  EXPECT_EQ(parse_error(0), ChainError::DescriptorOutOfRange);
  drv.write_desc(0, {kRam - 16, 32, sr::kDescIndirect, 0});  // straddles the end
  EXPECT_EQ(parse_error(0), ChainError::DescriptorOutOfRange);
  drv.write_desc(0, {UINT64_MAX - 15, 32, sr::kDescIndirect, 0});  // wraps
  EXPECT_EQ(parse_error(0), ChainError::DescriptorOutOfRange);
}

TEST_F(ChainTest, DescriptorTableOutsideRam) {
  ChainResult r = DescriptorChain::parse(mem, kRam - 16, kSize, 1);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ChainError::DescriptorOutOfRange);
  ChainResult wrap = DescriptorChain::parse(mem, UINT64_MAX - 15, kSize, 1);
  ASSERT_TRUE(wrap.is_error());
  EXPECT_EQ(wrap.error(), ChainError::DescriptorOutOfRange);
}

TEST_F(ChainTest, BufferOutsideRam) {
  drv.write_desc(0, {kRam, 1, 0, 0});
  EXPECT_EQ(parse_error(0), ChainError::AddressOutOfRange);
  drv.write_desc(0, {kRam - 4, 8, sr::kDescWrite, 0});  // straddles the end
  EXPECT_EQ(parse_error(0), ChainError::AddressOutOfRange);
  drv.write_desc(0, {kRam - 4, 4, sr::kDescWrite, 0});  // exactly fits
  EXPECT_TRUE(parse(0).has_chain());
}

TEST(ChainHole, BufferInHoleBetweenRegions) {
  GuestMemory mem{{{0, 0x10000}, {0x20000, 0x10000}}};
  FakeDriver drv{mem, 4, 0x1000};
  drv.write_desc(0, {0xfff0, 0x20, 0, 0});  // runs from region 0 into the hole
  ChainResult r = DescriptorChain::parse(mem, drv.desc_addr(), 4, 0);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ChainError::AddressOutOfRange);
}

TEST_F(ChainTest, AddressPlusLengthOverflow) {
  drv.write_desc(0, {UINT64_MAX - 10, 100, 0, 0});
  EXPECT_EQ(parse_error(0), ChainError::LengthOverflow);
}

TEST(ChainTotal, TotalLengthCappedAt4GiBMinusOne) {
  // 2 GiB of address space (MAP_NORESERVE, never touched) so that in-RAM
  // buffers can add up past 2^32-1.
  GuestMemory mem{{{0, 0x80000000}}};
  FakeDriver drv{mem, 4, 0x1000};
  drv.write_desc(0, {0, 0x80000000, sr::kDescNext, 1});
  drv.write_desc(1, {0, 0x7fffffff, sr::kDescWrite, 0});
  ChainResult ok = DescriptorChain::parse(mem, drv.desc_addr(), 4, 0);
  ASSERT_TRUE(ok.has_chain());
  EXPECT_EQ(ok->readable_len(), 0x80000000u);
  EXPECT_EQ(ok->writable_len(), 0x7fffffffu);

  drv.write_desc(1, {0, 0x80000000, sr::kDescWrite, 0});  // total 2^32
  ChainResult bad = DescriptorChain::parse(mem, drv.desc_addr(), 4, 0);
  ASSERT_TRUE(bad.is_error());
  EXPECT_EQ(bad.error(), ChainError::LengthOverflow);
}

TEST_F(ChainTest, WritableBeforeReadableRejected) {
  const uint16_t head = drv.add_chain(std::vector<FakeBuffer>{{0x100, 4, false}, {0x200, 4, true}, {0x300, 4, false}});
  EXPECT_EQ(parse_error(head), ChainError::WritableBeforeReadable);
}

TEST_F(ChainTest, WritableBeforeReadableInsideIndirectTable) {
  const uint16_t head = drv.add_indirect_chain(std::vector<FakeBuffer>{{0x200, 4, true}, {0x100, 4, false}});
  EXPECT_EQ(parse_error(head), ChainError::WritableBeforeReadable);
}

TEST_F(ChainTest, ZeroLengthDescriptorsAreSkippedButStillOrdered) {
  const uint16_t ok = drv.add_chain(
      std::vector<FakeBuffer>{{0x100, 4, false}, {0xdead0000, 0, false}, {0x200, 0, true}, {0x300, 4, true}});
  ChainResult r = parse(ok);
  ASSERT_TRUE(r.has_chain());
  EXPECT_EQ(r->descriptor_count(), 4u);
  EXPECT_EQ(r->readable().size(), 1u);
  EXPECT_EQ(r->writable().size(), 1u);

  const uint16_t bad = drv.add_chain(std::vector<FakeBuffer>{{0x200, 4, true}, {0x100, 0, false}});
  EXPECT_EQ(parse_error(bad), ChainError::WritableBeforeReadable);
}

TEST_F(ChainTest, ChainIsACopyUnaffectedByLaterGuestWrites) {
  const uint64_t ga = drv.alloc(8);
  const uint16_t head = drv.add_chain(std::vector<FakeBuffer>{{ga, 8, false}});
  ChainResult r = parse(head);
  ASSERT_TRUE(r.has_chain());
  drv.write_desc(head, {kRam * 2, 0xffffffff, sr::kDescWrite, 0});  // guest rewrites after validation
  EXPECT_EQ(r->readable()[0], (GuestBuffer{ga, 8}));
  EXPECT_TRUE(r->writable().empty());
}

TEST(ChainErrorNames, EveryErrorHasADistinctName) {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(ChainError::RingOutOfRange); ++e) {
    const auto name = to_string(static_cast<ChainError>(e));
    EXPECT_NE(name, "unknown chain error");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(ChainError::RingOutOfRange) + 1);
}

}  // namespace
}  // namespace wren
