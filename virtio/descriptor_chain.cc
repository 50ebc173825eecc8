#include "virtio/descriptor_chain.h"

#include <algorithm>

#include "virtio/queue_layout.h"

namespace wren {

std::string_view to_string(ChainError error) {
  switch (error) {
    case ChainError::IndexOutOfRange: return "descriptor index out of range";
    case ChainError::Loop: return "descriptor chain loops (longer than its table)";
    case ChainError::NestedIndirect: return "indirect descriptor inside an indirect table";
    case ChainError::IndirectWithNext: return "indirect descriptor with NEXT set";
    case ChainError::BadIndirectLength: return "indirect table length zero or not a multiple of 16";
    case ChainError::IndirectTableTooLarge: return "indirect table too large";
    case ChainError::DescriptorOutOfRange: return "descriptor table not in guest RAM";
    case ChainError::AddressOutOfRange: return "buffer not in guest RAM";
    case ChainError::LengthOverflow: return "buffer or chain length overflows";
    case ChainError::WritableBeforeReadable: return "device-readable descriptor after a writable one";
    case ChainError::AvailIndexTooFar: return "avail idx more than queue size ahead";
    case ChainError::RingOutOfRange: return "ring access outside guest RAM";
  }
  return "unknown chain error";
}

// Builds a DescriptorChain from copies of the guest's descriptors. Each
// descriptor is read once into a local value, checked, then used.
class ChainWalker {
 public:
  static ChainResult walk(const GuestMemory& mem, uint64_t desc_table, uint16_t queue_size, uint16_t head) {
    if (queue_size == 0 || head >= queue_size) return ChainError::IndexOutOfRange;
    DescriptorChain chain;
    chain.head_ = head;

    uint64_t table = desc_table;
    uint32_t table_len = queue_size;
    // Descriptors still allowed in the current table: a well-formed chain
    // visits each entry at most once, so exceeding the table length means a cycle.
    uint32_t budget = queue_size;
    bool in_indirect = false;
    bool seen_writable = false;
    uint64_t total = 0;
    uint16_t index = head;

    for (;;) {
      if (budget == 0) return ChainError::Loop;
      --budget;
      // index < table_len was checked, so this offset cannot overflow
      // (table_len <= 65536); the address itself may, which read_obj refuses.
      uint64_t gpa = 0;
      if (__builtin_add_overflow(table, uint64_t{16} * index, &gpa)) return ChainError::DescriptorOutOfRange;
      const std::optional<split_ring::Descriptor> copy = mem.read_obj<split_ring::Descriptor>(gpa);
      if (!copy) return ChainError::DescriptorOutOfRange;
      const split_ring::Descriptor desc = *copy;
      ++chain.descriptor_count_;

      if (desc.flags & split_ring::kDescIndirect) {
        if (in_indirect) return ChainError::NestedIndirect;
        if (desc.flags & split_ring::kDescNext) return ChainError::IndirectWithNext;
        if (desc.len == 0 || desc.len % sizeof(split_ring::Descriptor) != 0) return ChainError::BadIndirectLength;
        const uint32_t entries = desc.len / sizeof(split_ring::Descriptor);
        if (entries > DescriptorChain::kMaxIndirectEntries) return ChainError::IndirectTableTooLarge;
        if (!mem.contains(desc.addr, desc.len)) return ChainError::DescriptorOutOfRange;
        table = desc.addr;
        table_len = entries;
        budget = entries;
        in_indirect = true;
        index = 0;
        continue;
      }

      uint64_t end = 0;
      if (__builtin_add_overflow(desc.addr, uint64_t{desc.len}, &end)) return ChainError::LengthOverflow;
      if (!mem.contains(desc.addr, desc.len)) return ChainError::AddressOutOfRange;
      total += desc.len;  // at most 65536 + 1024 descriptors of < 2^32: no u64 overflow
      if (total > DescriptorChain::kMaxTotalLength) return ChainError::LengthOverflow;

      const bool writable = desc.flags & split_ring::kDescWrite;
      if (writable) {
        seen_writable = true;
      } else if (seen_writable) {
        return ChainError::WritableBeforeReadable;
      }
      if (desc.len > 0) {
        const GuestBuffer buffer{desc.addr, desc.len};
        if (writable) {
          chain.writable_.push_back(buffer);
          chain.writable_len_ += desc.len;  // bounded by total <= 2^32-1
        } else {
          chain.readable_.push_back(buffer);
          chain.readable_len_ += desc.len;
        }
      }

      if (!(desc.flags & split_ring::kDescNext)) break;
      if (desc.next >= table_len) return ChainError::IndexOutOfRange;
      index = desc.next;
    }
    return chain;
  }
};

ChainResult DescriptorChain::parse(const GuestMemory& mem, uint64_t desc_table, uint16_t queue_size, uint16_t head) {
  return ChainWalker::walk(mem, desc_table, queue_size, head);
}

namespace {

// Calls fn(gpa, count, done) for each piece of [offset, offset+len) of the
// concatenated buffers, clipped to their total; returns false if fn does.
template <typename Fn>
bool for_each_piece(std::span<const GuestBuffer> buffers, uint64_t offset, uint64_t len, Fn&& fn) {
  uint64_t done = 0;
  for (const GuestBuffer& b : buffers) {
    if (done == len) break;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(b.len - offset, len - done);
    if (!fn(b.gpa + offset, n, done)) return false;
    done += n;
    offset = 0;
  }
  return true;
}

bool append_slices(GuestMemory& mem, std::span<const GuestBuffer> buffers, uint64_t offset, uint64_t len,
                   bool for_write, std::vector<GuestSlice>& out) {
  return for_each_piece(buffers, offset, len, [&](uint64_t gpa, uint64_t n, uint64_t) {
    auto pieces = mem.slices(gpa, n, for_write);
    if (!pieces) return false;
    out.insert(out.end(), pieces->begin(), pieces->end());
    return true;
  });
}

std::optional<std::vector<GuestSlice>> collect_slices(GuestMemory& mem, std::span<const GuestBuffer> buffers,
                                                      uint64_t offset, uint64_t len, bool for_write) {
  std::vector<GuestSlice> out;
  if (!append_slices(mem, buffers, offset, len, for_write, out)) return std::nullopt;
  return out;
}

}  // namespace

size_t DescriptorChain::read_at(const GuestMemory& mem, uint64_t offset, std::span<uint8_t> out) const {
  size_t copied = 0;
  (void)for_each_piece(readable_, offset, out.size(), [&](uint64_t gpa, uint64_t n, uint64_t done) {
    if (!mem.read(gpa, out.subspan(done, n))) return false;
    copied += n;
    return true;
  });
  return copied;
}

std::optional<std::vector<uint8_t>> DescriptorChain::read_all(const GuestMemory& mem) const {
  std::vector<uint8_t> out(readable_len_);
  if (read_at(mem, 0, out) != out.size()) return std::nullopt;
  return out;
}

size_t DescriptorChain::write_at(GuestMemory& mem, uint64_t offset, std::span<const uint8_t> in) const {
  size_t written = 0;
  (void)for_each_piece(writable_, offset, in.size(), [&](uint64_t gpa, uint64_t n, uint64_t done) {
    if (!mem.write(gpa, in.subspan(done, n))) return false;
    written += n;
    return true;
  });
  return written;
}

std::optional<std::vector<GuestSlice>> DescriptorChain::readable_slices(GuestMemory& mem, uint64_t offset,
                                                                        uint64_t len) const {
  return collect_slices(mem, readable_, offset, len, /*for_write=*/false);
}

bool DescriptorChain::append_readable_slices(GuestMemory& mem, uint64_t offset, std::vector<GuestSlice>& out) const {
  return append_slices(mem, readable_, offset, UINT64_MAX, /*for_write=*/false, out);
}

std::optional<std::vector<GuestSlice>> DescriptorChain::writable_slices(GuestMemory& mem, uint64_t offset,
                                                                        uint64_t len) const {
  return collect_slices(mem, writable_, offset, len, /*for_write=*/true);
}

}  // namespace wren
