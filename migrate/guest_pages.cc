#include "migrate/guest_pages.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace wren::migrate {

namespace {

using Page = std::array<uint8_t, kPageSize>;

class BatchWriter {
 public:
  explicit BatchWriter(ByteSink& sink, ZeroPages zero_pages = ZeroPages::as_runs)
      : counted_(sink), crc_(counted_), zero_pages_(zero_pages) {}

  // Whether all-zero pages are sent as runs (else as data like any page).
  bool zero_runs() const { return zero_pages_ == ZeroPages::as_runs; }

  void zero_page(uint64_t gpa) {
    if (zero_count_ > 0 && gpa == zero_start_ + zero_count_ * kPageSize) {
      ++zero_count_;
      return;
    }
    flush_zeros();
    zero_start_ = gpa;
    zero_count_ = 1;
  }

  void data_page(uint64_t gpa, const Page& data) {
    flush_zeros();
    put_u8(crc_, kPageTagData);
    put_u64(crc_, gpa);
    crc_.write(data);
    ++stats_.data_pages;
  }

  PageStats finish() {
    flush_zeros();
    put_u8(crc_, kPageTagEnd);
    put_u64(crc_, stats_.data_pages);
    put_u64(crc_, stats_.zero_pages);
    put_u32(counted_, crc_.crc());
    stats_.bytes = counted_.bytes;
    return stats_;
  }

 private:
  struct Counter final : ByteSink {
    explicit Counter(ByteSink& inner) : inner(inner) {}
    void write(std::span<const uint8_t> data) override {
      bytes += data.size();
      inner.write(data);
    }
    ByteSink& inner;
    uint64_t bytes = 0;
  };

  void flush_zeros() {
    if (zero_count_ == 0) return;
    put_u8(crc_, kPageTagZero);
    put_u64(crc_, zero_start_);
    put_u64(crc_, zero_count_);
    stats_.zero_pages += zero_count_;
    zero_count_ = 0;
  }

  Counter counted_;
  Crc32cSink crc_;
  ZeroPages zero_pages_;
  PageStats stats_;
  uint64_t zero_start_ = 0;
  uint64_t zero_count_ = 0;
};

// Zero pages are recognised in place; only data pages are copied out.
bool write_page(const GuestMemory& memory, uint64_t gpa, BatchWriter& writer) {
  if (writer.zero_runs()) {
    const auto zero = memory.all_zero(gpa, kPageSize);
    if (!zero) return false;
    if (*zero) {
      writer.zero_page(gpa);
      return true;
    }
  }
  Page page;
  if (!memory.read(gpa, page)) return false;
  writer.data_page(gpa, page);
  return true;
}

Failure fail(const std::string& what) { return Failure{"guest memory stream: " + what}; }

struct CountingSource final : ByteSource {
  explicit CountingSource(ByteSource& inner) : inner(inner) {}
  bool read(std::span<uint8_t> out) override {
    if (!inner.read(out)) return false;
    bytes += out.size();
    return true;
  }
  ByteSource& inner;
  uint64_t bytes = 0;
};

Expected<PageStats> read_batch(ByteSource& raw, GuestMemory* memory, uint64_t limit) {
  CountingSource in(raw);
  Crc32cSource source(in);
  PageStats stats;
  Page page;
  const uint64_t max_pages = std::min(limit, memory ? memory->total_bytes() / kPageSize : UINT64_MAX / kPageSize);
  // Checked before a record is applied, so a hostile batch cannot make the
  // reader scan or write more than max_pages pages.
  const auto room = [&] { return max_pages - (stats.data_pages + stats.zero_pages); };
  for (;;) {
    const auto tag = get_u8(source);
    if (!tag) return fail("truncated");
    if (*tag == kPageTagEnd) break;
    const auto gpa = get_u64(source);
    if (!gpa) return fail("truncated");
    if (*gpa % kPageSize != 0) return fail("unaligned page address " + std::to_string(*gpa));
    if (*tag == kPageTagData) {
      if (room() == 0) return fail("more than " + std::to_string(max_pages) + " pages");
      if (memory && !memory->contains(*gpa, kPageSize))
        return fail("page " + std::to_string(*gpa) + " is not guest RAM");
      if (!source.read(page)) return fail("truncated page data");
      if (memory && !memory->write(*gpa, page)) return fail("page " + std::to_string(*gpa) + " is not guest RAM");
      ++stats.data_pages;
    } else if (*tag == kPageTagZero) {
      const auto count = get_u64(source);
      if (!count) return fail("truncated");
      if (*count == 0) return fail("bad zero-run length 0");
      if (*count > room()) return fail("more than " + std::to_string(max_pages) + " pages");
      const uint64_t len = *count * kPageSize;  // no overflow: count <= UINT64_MAX / 4096
      if (*gpa > UINT64_MAX - len) return fail("zero run wraps around");
      if (memory) {
        if (!memory->contains(*gpa, len)) return fail("zero run at " + std::to_string(*gpa) + " is not guest RAM");
        // Checked in place: a fresh destination's pages stay unpopulated.
        for (uint64_t at = *gpa; at < *gpa + len; at += kPageSize) {
          const auto zero = memory->all_zero(at, kPageSize);
          if (!zero || (!*zero && !memory->fill(at, 0, kPageSize))) return fail("zero run is not guest RAM");
        }
      }
      stats.zero_pages += *count;
    } else {
      return fail("unknown record tag " + std::to_string(*tag));
    }
  }
  const auto data_pages = get_u64(source);
  const auto zero_pages = data_pages ? get_u64(source) : std::nullopt;
  if (!zero_pages) return fail("truncated end record");
  if (*data_pages != stats.data_pages || *zero_pages != stats.zero_pages) return fail("page counts do not match");
  const uint32_t computed = source.crc();
  const auto stored = get_u32(in);
  if (!stored) return fail("truncated before the checksum");
  if (*stored != computed) return fail("checksum mismatch");
  stats.bytes = in.bytes;
  return stats;
}

}  // namespace

GuestMemoryLayout GuestMemoryLayout::of(const GuestMemory& memory) { return {memory.regions()}; }

bool operator==(const GuestMemoryLayout& a, const GuestMemoryLayout& b) {
  return std::equal(a.regions.begin(), a.regions.end(), b.regions.begin(), b.regions.end(),
                    [](const MemoryRegion& x, const MemoryRegion& y) { return x.gpa == y.gpa && x.size == y.size; });
}

std::optional<std::string> check_layout_matches(const GuestMemoryLayout& layout, const GuestMemory& memory) {
  if (layout == GuestMemoryLayout::of(memory)) return std::nullopt;
  uint64_t total = 0;
  for (const auto& r : layout.regions) total += r.size;
  return "guest RAM layout differs: the snapshot has " + std::to_string(layout.regions.size()) + " regions, " +
         std::to_string(total >> 20) + " MiB; this machine has " + std::to_string(memory.regions().size()) +
         " regions, " + std::to_string(memory.total_bytes() >> 20) + " MiB";
}

PageStats write_page_batch(const GuestMemory& memory, std::span<const uint64_t> page_gpas, ByteSink& sink,
                           ZeroPages zero_pages) {
  BatchWriter writer(sink, zero_pages);
  for (uint64_t gpa : page_gpas) {
    if (gpa % kPageSize != 0 || !write_page(memory, gpa, writer))
      throw std::invalid_argument("write_page_batch: " + std::to_string(gpa) + " is not a guest RAM page");
  }
  return writer.finish();
}

PageStats write_all_pages(const GuestMemory& memory, ByteSink& sink) {
  BatchWriter writer(sink);
  for (const auto& region : memory.regions()) {
    for (uint64_t gpa = region.gpa; gpa < region.gpa + region.size; gpa += kPageSize)
      if (!write_page(memory, gpa, writer)) throw std::logic_error("guest RAM region is not readable");
  }
  return writer.finish();
}

std::vector<uint64_t> pages_from_bitmap(uint64_t region_gpa, std::span<const uint64_t> bitmap) {
  std::vector<uint64_t> pages;
  for (size_t w = 0; w < bitmap.size(); ++w) {
    uint64_t bits = bitmap[w];
    while (bits) {
      const int bit = __builtin_ctzll(bits);
      pages.push_back(region_gpa + (w * 64 + static_cast<uint64_t>(bit)) * kPageSize);
      bits &= bits - 1;
    }
  }
  return pages;
}

Expected<PageStats> read_page_batch(ByteSource& source, GuestMemory& memory, uint64_t max_pages) {
  return read_batch(source, &memory, max_pages);
}

Expected<PageStats> scan_page_batch(ByteSource& source) { return read_batch(source, nullptr, UINT64_MAX); }

}  // namespace wren::migrate
