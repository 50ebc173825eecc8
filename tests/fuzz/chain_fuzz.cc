// libFuzzer target for the split virtqueue and descriptor-chain walker.
//
// Input = a 16-byte header describing the queue, then guest memory contents
// (copied to guest address 0). Guest memory is two adjacent 32 KiB regions
// (so buffers can straddle a region boundary) plus a 4 KiB region after a
// hole. The fuzzer then plays a device: pops chains until the queue is empty
// or broken, reads and writes every chain, completes it, and exercises
// notification suppression and undo_pop. Any crash, sanitizer report or
// broken invariant (__builtin_trap) is a finding.
//
// Header layout (little-endian), also produced by make_chain_seeds.py:
//   u8  size_log2   queue size = 1 << (size_log2 % 9)  (1..256)
//   u8  flags       bit0 EVENT_IDX, bit1 undo every 3rd pop, bit2 disable notifications while draining
//   u16 desc_addr   ring addresses, taken as-is (misaligned ones are refused by restore)
//   u16 avail_addr
//   u16 used_addr
//   u16 next_avail  device position at start (as if restored from migration)
//   u16 next_used
//   u16 write_offset  where each chain's writable part is written
//   u16 reserved
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <spdlog/spdlog.h>

#include "virtio/descriptor_chain.h"
#include "virtio/queue.h"

namespace {

using namespace wren;

constexpr size_t kHeader = 16;
constexpr uint64_t kRegion = 0x8000;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

uint16_t u16_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Invariants every chain handed to a device must satisfy.
void check_chain(const GuestMemory& mem, const DescriptorChain& c, uint16_t size) {
  check(c.head() < size);
  uint64_t r = 0, w = 0;
  for (const GuestBuffer& b : c.readable()) {
    check(b.len > 0 && mem.contains(b.gpa, b.len));
    r += b.len;
  }
  for (const GuestBuffer& b : c.writable()) {
    check(b.len > 0 && mem.contains(b.gpa, b.len));
    w += b.len;
  }
  check(r == c.readable_len() && w == c.writable_len());
  check(r + w <= DescriptorChain::kMaxTotalLength);
  check(c.descriptor_count() <= uint32_t{size} + DescriptorChain::kMaxIndirectEntries + 1);
}

void use_chain(GuestMemory& mem, const DescriptorChain& c, uint16_t write_offset) {
  // Keep the copies small: a chain may legally describe up to 4 GiB.
  uint8_t buf[512];
  const size_t n = c.read_at(mem, write_offset, buf);
  check(n <= sizeof(buf) && n <= c.readable_len());
  if (c.readable_len() <= 4096) {
    auto all = c.read_all(mem);
    check(all && all->size() == c.readable_len());
  }
  std::memset(buf, 0xa5, sizeof(buf));
  const size_t written = c.write_at(mem, write_offset, buf);
  check(written <= c.writable_len());
  if (auto slices = c.writable_slices(mem, write_offset, 1024)) {
    uint64_t total = 0;
    for (GuestSlice s : *slices) {
      s.front() ^= 1;  // touch both ends of every iovec
      s.back() ^= 1;
      total += s.size();
    }
    check(total <= 1024 && total <= c.writable_len());
  } else {
    check(false);  // validated buffers are always mappable
  }
  if (auto slices = c.readable_slices(mem)) {
    for (GuestSlice s : *slices) check(!s.empty());
  } else {
    check(false);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // every input breaks a fresh queue; the warnings are noise here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader) return 0;
  static GuestMemory mem({{0, kRegion}, {kRegion, kRegion}, {4 * kRegion, 0x1000}});
  // Fresh guest memory for every input.
  check(mem.fill(0, 0, 2 * kRegion) && mem.fill(4 * kRegion, 0, 0x1000));
  const size_t image = std::min<size_t>(size - kHeader, 2 * kRegion);
  check(mem.write(0, std::span(data + kHeader, image)));

  const uint8_t flags = data[1];
  QueueState s;
  s.size = static_cast<uint16_t>(1u << (data[0] % 9));
  s.ready = true;
  s.desc_addr = u16_at(data + 2);
  s.avail_addr = u16_at(data + 4);
  s.used_addr = u16_at(data + 6);
  s.next_avail = u16_at(data + 8);
  s.next_used = u16_at(data + 10);
  s.event_idx = flags & 1;
  const uint16_t write_offset = u16_at(data + 12) % 2048;

  Queue q(256, "fuzz");
  if (!q.restore(s, mem)) {
    check(Queue::check(s, 256, mem).has_value());
    return 0;
  }
  check(q.save() == s);

  unsigned pops = 0;
  const unsigned max_iterations = 2u * s.size + 8;
  for (unsigned i = 0; i < max_iterations; ++i) {
    if (flags & 4) q.disable_notification(mem);
    ChainResult r = q.pop(mem);
    if (r.is_error()) {
      check(q.broken() && q.error() == r.error());
      check(q.pop(mem).is_empty());
      break;
    }
    if (r.is_empty()) {
      if (!q.enable_notification(mem)) break;
      continue;  // buffers appeared (the device wrote the avail ring): go round again
    }
    const DescriptorChain& c = r.chain();
    check_chain(mem, c, q.size());
    if ((flags & 2) && ++pops % 3 == 0) {
      const uint16_t before = q.next_avail();
      q.undo_pop();
      check(q.next_avail() == static_cast<uint16_t>(before - 1));
      ChainResult again = q.pop(mem);  // the guest may have changed it meanwhile: anything goes, but safely
      if (!again.has_chain()) break;
      check_chain(mem, again.chain(), q.size());
      use_chain(mem, again.chain(), write_offset);
      check(q.add_used(mem, again->head(), again->writable_len()));
    } else {
      use_chain(mem, c, write_offset);
      check(q.add_used(mem, c.head(), c.writable_len()));
    }
    (void)q.needs_notification(mem);
  }
  check(!q.add_used(mem, q.size(), 0));
  return 0;
}
