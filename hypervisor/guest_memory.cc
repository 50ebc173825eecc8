#include "hypervisor/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "hypervisor/layout.h"

namespace wren {

namespace {
constexpr uint64_t kPage = layout::kPageSize;

bool end_of(uint64_t gpa, uint64_t len, uint64_t& end) { return !__builtin_add_overflow(gpa, len, &end); }

// 64 bytes at a time: live migration and snapshots ask this of every guest
// page, and a byte-at-a-time loop would cost more than sending the pages.
bool bytes_are_zero(const uint8_t* p, size_t n) {
  for (; n >= 64; p += 64, n -= 64) {
    uint64_t w[8];
    std::memcpy(w, p, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  for (; n > 0; ++p, --n)
    if (*p != 0) return false;
  return true;
}
}  // namespace

GuestMemory::GuestMemory(std::vector<MemoryRegion> regions) : regions_(std::move(regions)) {
  if (regions_.empty()) throw std::invalid_argument("guest memory needs at least one region");
  uint64_t prev_end = 0;
  for (size_t i = 0; i < regions_.size(); ++i) {
    const auto& r = regions_[i];
    uint64_t end = 0;
    if (r.size == 0 || r.gpa % kPage || r.size % kPage || !end_of(r.gpa, r.size, end))
      throw std::invalid_argument("guest memory region must be non-empty and page aligned");
    if (i > 0 && r.gpa < prev_end) throw std::invalid_argument("guest memory regions overlap or are unsorted");
    prev_end = end;
    Backing b;
    b.region = r;
    b.mapping = Mapping::guest_ram(r.size);
    b.dirty_words = (r.size / kPage + 63) / 64;
    b.dirty = std::make_unique<std::atomic<uint64_t>[]>(b.dirty_words);
    for (size_t w = 0; w < b.dirty_words; ++w) b.dirty[w].store(0, std::memory_order_relaxed);
    backings_.push_back(std::move(b));
  }
}

std::vector<MemoryRegion> GuestMemory::x86_layout(uint64_t ram_bytes) {
  std::vector<MemoryRegion> out;
  const uint64_t low = std::min(ram_bytes, layout::kLowRamEnd);
  out.push_back({0, low});
  if (ram_bytes > low) out.push_back({layout::kHighRamStart, ram_bytes - low});
  return out;
}

const GuestMemory::Backing* GuestMemory::find(uint64_t gpa) const {
  for (const auto& b : backings_)
    if (gpa >= b.region.gpa && gpa - b.region.gpa < b.region.size) return &b;
  return nullptr;
}

// Walks [gpa, gpa+len) chunk by chunk; fails without calling fn at all if any
// byte is outside RAM, so accessors never do partial work.
template <typename Fn>
bool GuestMemory::for_each_chunk(uint64_t gpa, uint64_t len, Fn&& fn) const {
  uint64_t end = 0;
  if (!end_of(gpa, len, end)) return false;
  if (!contains(gpa, len)) return false;
  uint64_t cur = gpa;
  uint64_t done = 0;
  while (cur < end) {
    const Backing* b = find(cur);
    const uint64_t off = cur - b->region.gpa;
    const uint64_t n = std::min(end - cur, b->region.size - off);
    fn(*b, off, done, n);
    cur += n;
    done += n;
  }
  return true;
}

bool GuestMemory::contains(uint64_t gpa, uint64_t len) const {
  uint64_t end = 0;
  if (!end_of(gpa, len, end)) return false;
  uint64_t cur = gpa;
  while (cur < end) {
    const Backing* b = find(cur);
    if (!b) return false;
    cur = b->region.gpa + b->region.size;  // regions are sorted; continue in the next one
  }
  return true;
}

bool GuestMemory::read(uint64_t gpa, std::span<uint8_t> out) const {
  return for_each_chunk(gpa, out.size(), [&](const Backing& b, uint64_t off, uint64_t done, uint64_t n) {
    std::memcpy(out.data() + done, b.mapping.data() + off, n);
  });
}

bool GuestMemory::write(uint64_t gpa, std::span<const uint8_t> in) {
  const bool ok = for_each_chunk(gpa, in.size(), [&](const Backing& b, uint64_t off, uint64_t done, uint64_t n) {
    std::memcpy(b.mapping.data() + off, in.data() + done, n);
  });
  if (ok) mark_dirty(gpa, in.size());
  return ok;
}

bool GuestMemory::fill(uint64_t gpa, uint8_t value, uint64_t len) {
  const bool ok = for_each_chunk(gpa, len, [&](const Backing& b, uint64_t off, uint64_t, uint64_t n) {
    std::memset(b.mapping.data() + off, value, n);
  });
  if (ok) mark_dirty(gpa, len);
  return ok;
}

std::optional<bool> GuestMemory::all_zero(uint64_t gpa, uint64_t len) const {
  bool zero = true;
  const bool ok = for_each_chunk(gpa, len, [&](const Backing& b, uint64_t off, uint64_t, uint64_t n) {
    if (zero) zero = bytes_are_zero(b.mapping.data() + off, n);
  });
  if (!ok) return std::nullopt;
  return zero;
}

std::optional<std::vector<GuestSlice>> GuestMemory::slices(uint64_t gpa, uint64_t len, bool for_write) {
  std::vector<GuestSlice> out;
  const bool ok = for_each_chunk(gpa, len, [&](const Backing& b, uint64_t off, uint64_t, uint64_t n) {
    out.emplace_back(b.mapping.data() + off, n);
  });
  if (!ok) return std::nullopt;
  if (for_write) mark_dirty(gpa, len);
  return out;
}

bool GuestMemory::refault_page(uint64_t gpa) {
  const uint64_t page = gpa & ~(kPage - 1);
  const Backing* b = find(page);
  if (!b) return false;
  uint8_t* host = b->mapping.data() + (page - b->region.gpa);
  // Any protection change invalidates the secondary MMU (KVM) through the
  // MMU notifier. Adding PROT_EXEC and taking it away again never removes
  // write access, unlike QEMU's PROT_NONE toggle, which would fault a
  // concurrent VMM access to the page.
  return ::mprotect(host, kPage, PROT_READ | PROT_WRITE | PROT_EXEC) == 0 &&
         ::mprotect(host, kPage, PROT_READ | PROT_WRITE) == 0;
}

uint64_t GuestMemory::total_bytes() const {
  uint64_t total = 0;
  for (const auto& r : regions_) total += r.size;
  return total;
}

uint64_t GuestMemory::host_address_for_kvm(size_t region_index) const {
  return reinterpret_cast<uint64_t>(backings_.at(region_index).mapping.data());
}

void GuestMemory::mark_dirty(uint64_t gpa, uint64_t len) {
  if (len == 0) return;
  uint64_t end = 0;
  if (!end_of(gpa, len, end)) return;
  for (auto& b : backings_) {
    const uint64_t rs = b.region.gpa, re = b.region.gpa + b.region.size;
    const uint64_t s = std::max(gpa, rs), e = std::min(end, re);
    if (s >= e) continue;
    for (uint64_t page = (s - rs) / kPage; page <= (e - 1 - rs) / kPage; ++page)
      b.dirty[page / 64].fetch_or(uint64_t{1} << (page % 64), std::memory_order_relaxed);
  }
}

std::vector<uint64_t> GuestMemory::take_dirty_bitmap(size_t region_index) {
  auto& b = backings_.at(region_index);
  std::vector<uint64_t> out(b.dirty_words);
  for (size_t w = 0; w < b.dirty_words; ++w) out[w] = b.dirty[w].exchange(0, std::memory_order_relaxed);
  return out;
}

}  // namespace wren
