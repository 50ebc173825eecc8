// Guest memory page records: zero pages skipped, dirty-page batches, and
// every gpa validated before memory is touched.
#include "migrate/guest_pages.h"

#include <gtest/gtest.h>

#include "memory_contents.h"

namespace wren::migrate {
namespace {

constexpr uint64_t kHigh = 0x100000000;

GuestMemory make_memory() { return GuestMemory({{0, 64 * kPageSize}, {kHigh, 16 * kPageSize}}); }

void put(GuestMemory& mem, uint64_t gpa, uint8_t value) { ASSERT_TRUE(mem.fill(gpa, value, kPageSize)); }

// Builds a batch by hand (with a correct checksum and counts).
std::vector<uint8_t> handmade(const std::function<void(ByteSink&)>& records, uint64_t data, uint64_t zero) {
  VectorSink out;
  Crc32cSink crc(out);
  records(crc);
  put_u8(crc, kPageTagEnd);
  put_u64(crc, data);
  put_u64(crc, zero);
  put_u32(out, crc.crc());
  return out.bytes;
}

Expected<PageStats> load(const std::vector<uint8_t>& bytes, GuestMemory& mem) {
  SpanSource source(bytes);
  return read_page_batch(source, mem);
}

TEST(GuestPages, AllPagesRoundTripSkippingZeros) {
  GuestMemory src = make_memory();
  put(src, 0, 0x11);
  put(src, 5 * kPageSize, 0x22);
  put(src, kHigh + 15 * kPageSize, 0x33);
  VectorSink sink;
  const PageStats written = write_all_pages(src, sink);
  EXPECT_EQ(written.data_pages, 3u);
  EXPECT_EQ(written.zero_pages, 77u);
  EXPECT_EQ(written.bytes, sink.bytes.size());
  EXPECT_LT(sink.bytes.size(), 4 * kPageSize);  // zero pages cost a few bytes per run

  GuestMemory dst = make_memory();
  put(dst, 7 * kPageSize, 0x99);  // stale data where the source has zeros: cleared
  auto read = load(sink.bytes, dst);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(*read, written);
  EXPECT_EQ(contents(dst), contents(src));
}

TEST(GuestPages, DirtyPageBatch) {
  GuestMemory src = make_memory();
  put(src, 3 * kPageSize, 0xaa);
  put(src, kHigh, 0xbb);
  GuestMemory dst = make_memory();
  put(dst, 4 * kPageSize, 0xcc);  // was dirty at the source and became zero there
  const std::vector<uint64_t> dirty = {3 * kPageSize, 4 * kPageSize, kHigh};
  VectorSink sink;
  const PageStats written = write_page_batch(src, dirty, sink);
  EXPECT_EQ(written.data_pages, 2u);
  EXPECT_EQ(written.zero_pages, 1u);
  auto read = load(sink.bytes, dst);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(contents(dst), contents(src));
}

TEST(GuestPages, WriterRefusesPagesOutsideRam) {
  GuestMemory src = make_memory();
  VectorSink sink;
  const uint64_t outside[] = {64 * kPageSize};
  EXPECT_THROW(write_page_batch(src, outside, sink), std::invalid_argument);
  const uint64_t unaligned[] = {1};
  EXPECT_THROW(write_page_batch(src, unaligned, sink), std::invalid_argument);
}

TEST(GuestPages, PagesFromBitmap) {
  const uint64_t bitmap[] = {0b1001, 0, uint64_t{1} << 63};
  EXPECT_EQ(pages_from_bitmap(kHigh, bitmap),
            (std::vector<uint64_t>{kHigh, kHigh + 3 * kPageSize, kHigh + 191 * kPageSize}));
}

TEST(GuestPages, RefusesDataPageOutsideRam) {
  GuestMemory dst = make_memory();
  const std::vector<uint8_t> page(kPageSize, 1);
  for (uint64_t gpa : {64 * kPageSize, kHigh + 16 * kPageSize, ~uint64_t{0} - kPageSize + 1}) {
    auto bytes = handmade(
        [&](ByteSink& s) {
          put_u8(s, kPageTagData);
          put_u64(s, gpa);
          s.write(page);
        },
        1, 0);
    auto r = load(bytes, dst);
    ASSERT_FALSE(r.ok()) << gpa;
    EXPECT_NE(r.error().find("is not guest RAM"), std::string::npos) << r.error();
  }
}

TEST(GuestPages, RefusesUnalignedPage) {
  GuestMemory dst = make_memory();
  auto bytes = handmade(
      [&](ByteSink& s) {
        put_u8(s, kPageTagData);
        put_u64(s, 8);
        s.write(std::vector<uint8_t>(kPageSize));
      },
      1, 0);
  auto r = load(bytes, dst);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("unaligned"), std::string::npos);
}

TEST(GuestPages, RefusesBadZeroRuns) {
  GuestMemory dst = make_memory();
  auto run = [&](uint64_t gpa, uint64_t count) {
    return handmade(
        [&](ByteSink& s) {
          put_u8(s, kPageTagZero);
          put_u64(s, gpa);
          put_u64(s, count);
        },
        0, count);
  };
  EXPECT_FALSE(load(run(0, 0), dst).ok());                        // empty run
  EXPECT_FALSE(load(run(0, 65), dst).ok());                       // past the end of the region
  EXPECT_FALSE(load(run(60 * kPageSize, 8), dst).ok());           // straddles the hole
  EXPECT_FALSE(load(run(kHigh, ~uint64_t{0} / 4096), dst).ok());  // larger than RAM
  EXPECT_FALSE(load(run(~uint64_t{0} - 4095, 2), dst).ok());      // wraps
  EXPECT_TRUE(load(run(0, 64), dst).ok());
}

TEST(GuestPages, PageLimitIsCheckedBeforeMemoryIsTouched) {
  GuestMemory dst = make_memory();
  put(dst, 20 * kPageSize, 0x77);
  auto limited = [&](const std::vector<uint8_t>& bytes, uint64_t max_pages) {
    SpanSource source(bytes);
    return read_page_batch(source, dst, max_pages);
  };
  // A zero run over the limit, even one that would clear a page first.
  auto run = handmade(
      [](ByteSink& s) {
        put_u8(s, kPageTagZero);
        put_u64(s, 0);
        put_u64(s, 32);
      },
      0, 32);
  EXPECT_EQ(limited(run, 16).error(), "guest memory stream: more than 16 pages");
  EXPECT_TRUE(limited(run, 32).ok());
  put(dst, 20 * kPageSize, 0x77);
  // The limit counts data and zero pages together.
  auto mixed = handmade(
      [](ByteSink& s) {
        put_u8(s, kPageTagZero);
        put_u64(s, 0);
        put_u64(s, 3);
        put_u8(s, kPageTagData);
        put_u64(s, 20 * kPageSize);
        s.write(std::vector<uint8_t>(kPageSize, 0x55));
      },
      1, 3);
  EXPECT_EQ(limited(mixed, 3).error(), "guest memory stream: more than 3 pages");
  std::vector<uint8_t> page(kPageSize);
  ASSERT_TRUE(dst.read(20 * kPageSize, page));
  EXPECT_EQ(page[0], 0x77);  // the data page past the limit was not written
  EXPECT_TRUE(limited(mixed, 4).ok());
  // Without a limit, guest RAM is the limit.
  EXPECT_EQ(load(handmade(
                     [](ByteSink& s) {
                       put_u8(s, kPageTagZero);
                       put_u64(s, kHigh);
                       put_u64(s, 81);
                     },
                     0, 81),
                 dst)
                .error(),
            "guest memory stream: more than 80 pages");
}

TEST(GuestPages, RefusesUnknownTagCountsAndChecksum) {
  GuestMemory dst = make_memory();
  auto unknown = handmade(
      [](ByteSink& s) {
        put_u8(s, 7);
        put_u64(s, 0);
      },
      0, 0);
  EXPECT_NE(load(unknown, dst).error().find("unknown record tag 7"), std::string::npos);

  auto counts = handmade(
      [](ByteSink& s) {
        put_u8(s, kPageTagZero);
        put_u64(s, 0);
        put_u64(s, 2);
      },
      0, 3);
  EXPECT_NE(load(counts, dst).error().find("page counts"), std::string::npos);

  GuestMemory src = make_memory();
  put(src, 0, 0x42);
  VectorSink sink;
  (void)write_all_pages(src, sink);
  sink.bytes[100] ^= 1;  // inside the data page
  EXPECT_NE(load(sink.bytes, dst).error().find("checksum mismatch"), std::string::npos);
}

TEST(GuestPages, EveryTruncationIsRefused) {
  GuestMemory src = make_memory();
  put(src, 2 * kPageSize, 0x42);
  VectorSink sink;
  (void)write_all_pages(src, sink);
  GuestMemory dst = make_memory();
  for (size_t n = 0; n < sink.bytes.size(); n += (n < 64 || n > sink.bytes.size() - 64) ? 1 : 509) {
    std::vector<uint8_t> cut(sink.bytes.begin(), sink.bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(load(cut, dst).ok()) << n;
  }
}

TEST(GuestPages, ScanCountsWithoutMemory) {
  GuestMemory src = make_memory();
  put(src, kPageSize, 1);
  VectorSink sink;
  const PageStats written = write_all_pages(src, sink);
  SpanSource source(sink.bytes);
  auto scanned = scan_page_batch(source);
  ASSERT_TRUE(scanned.ok()) << scanned.error();
  EXPECT_EQ(*scanned, written);
}

}  // namespace
}  // namespace wren::migrate
