#pragma once
// Guest RAM as a stream of page records, for snapshot files (every page once)
// and live migration (pre-copy rounds send the pages dirtied since the last
// round: write_page_batch takes any page list).
//
// A batch, little-endian:
//   records, each starting with a u8 tag:
//     kTagData: u64 gpa, then the page's 4096 bytes
//     kTagZero: u64 gpa, u64 count: `count` (>= 1) pages from gpa are zero
//   kTagEnd: u64 data pages, u64 zero pages, u32 CRC-32C of the batch
//            (every byte from its first record through the two counts)
// Zero pages cost 17 bytes per run instead of 4 KiB each. A reader checks
// every gpa (page aligned, the whole run inside guest RAM, overflow-checked)
// before touching memory.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "migrate/byte_io.h"
#include "migrate/expected.h"

namespace wren::migrate {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint8_t kPageTagEnd = 0;
inline constexpr uint8_t kPageTagData = 1;
inline constexpr uint8_t kPageTagZero = 2;

struct PageStats {
  uint64_t data_pages = 0;
  uint64_t zero_pages = 0;
  uint64_t bytes = 0;  // stream bytes of the batch
  friend bool operator==(const PageStats&, const PageStats&) = default;
};

// The RAM layout, carried as a payload so a restore can refuse a machine
// whose memory differs before any page is read.
struct GuestMemoryLayout {
  std::vector<MemoryRegion> regions;
  static GuestMemoryLayout of(const GuestMemory& memory);
  friend bool operator==(const GuestMemoryLayout& a, const GuestMemoryLayout& b);
};
// The first difference between `layout` and `memory`, if any.
[[nodiscard]] std::optional<std::string> check_layout_matches(const GuestMemoryLayout& layout,
                                                              const GuestMemory& memory);

// How a batch writes pages that are all zero: as kTagZero runs, or as data
// like any other page (live migration protocol v1 has no zero runs).
enum class ZeroPages { as_runs, as_data };

// One batch of the pages at `page_gpas` (page aligned; written in the order
// given; with as_runs, runs of consecutive zero pages merged). Throws std::invalid_argument
// for a gpa that is unaligned or not guest RAM (a caller bug).
PageStats write_page_batch(const GuestMemory& memory, std::span<const uint64_t> page_gpas, ByteSink& sink,
                           ZeroPages zero_pages = ZeroPages::as_runs);
// One batch of every page of guest RAM.
PageStats write_all_pages(const GuestMemory& memory, ByteSink& sink);

// The pages whose bits are set in `bitmap` (bit i of word w = page w*64+i of
// the region starting at `region_gpa`), as GuestMemory::take_dirty_bitmap and
// Vm::get_dirty_log return them.
[[nodiscard]] std::vector<uint64_t> pages_from_bitmap(uint64_t region_gpa, std::span<const uint64_t> bitmap);

// Reads one batch into `memory`. Zero runs only write pages that do not
// already read as zero (a fresh destination stays unpopulated). A batch of
// more than `max_pages` pages (data and zero), or more than guest RAM holds,
// is refused before any page past the limit is touched. On failure `memory`
// may hold part of the batch: the destination must not run.
[[nodiscard]] Expected<PageStats> read_page_batch(ByteSource& source, GuestMemory& memory,
                                                  uint64_t max_pages = UINT64_MAX);
// Reads and checks one batch without a destination (gpas only checked for
// alignment and overflow): for `wren snapshot inspect`.
[[nodiscard]] Expected<PageStats> scan_page_batch(ByteSource& source);

}  // namespace wren::migrate
