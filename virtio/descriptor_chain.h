#pragma once
// A validated descriptor chain: the safety boundary between guest-written
// descriptors and device code.
//
// The walker copies each descriptor into host memory once, validates the copy
// and only ever uses the copy. Rules enforced (a violation is a guest error):
//  - every descriptor index (head, `next`, indirect-table `next`) is < the
//    table's length                                  -> IndexOutOfRange
//  - at most `queue size` descriptors are visited in the descriptor table and
//    at most `table length` in an indirect table     -> Loop
//  - one level of indirection: INDIRECT inside an indirect table -> NestedIndirect
//  - INDIRECT together with NEXT                      -> IndirectWithNext
//  - indirect table length is a non-zero multiple of 16 -> BadIndirectLength
//    and holds at most kMaxIndirectEntries entries     -> IndirectTableTooLarge
//  - descriptor table / indirect table readable in guest RAM -> DescriptorOutOfRange
//  - every buffer [addr, addr+len) lies in guest RAM  -> AddressOutOfRange
//    (addr+len wrapping past 2^64 is                  -> LengthOverflow)
//  - total length of all buffers <= 2^32-1            -> LengthOverflow
//  - all device-readable buffers precede all device-writable ones
//                                                     -> WritableBeforeReadable
// A descriptor that refers to an indirect table may itself follow direct
// descriptors (it must be the last of the direct part, since NEXT is not
// allowed with INDIRECT). Its WRITE flag is ignored (spec 2.7.5.3.2).
//
// Zero-length descriptors are accepted (the spec does not forbid them and some
// drivers emit them); they count for the loop budget and the readable/writable
// ordering but are left out of the buffer lists, so device code never sees an
// empty buffer.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "hypervisor/guest_memory.h"

namespace wren {

// Guest errors found in a chain or a ring. The first one breaks the queue.
enum class ChainError : uint8_t {
  IndexOutOfRange,         // head or `next` >= table length
  Loop,                    // more descriptors than the table can hold: a cycle
  NestedIndirect,          // INDIRECT flag inside an indirect table
  IndirectWithNext,        // INDIRECT and NEXT both set
  BadIndirectLength,       // indirect table length 0 or not a multiple of 16
  IndirectTableTooLarge,   // more than kMaxIndirectEntries entries
  DescriptorOutOfRange,    // descriptor or indirect table not in guest RAM
  AddressOutOfRange,       // a buffer not entirely in guest RAM
  LengthOverflow,          // addr+len wraps, or the chain totals more than 2^32-1 bytes
  WritableBeforeReadable,  // a device-readable buffer after a writable one
  AvailIndexTooFar,        // avail idx more than queue size ahead of the device
  RingOutOfRange,          // a ring access failed (rings not in guest RAM)
};

std::string_view to_string(ChainError error);

// One guest buffer of a chain. Always non-empty and entirely in guest RAM
// (checked when the chain was built).
struct GuestBuffer {
  uint64_t gpa = 0;
  uint32_t len = 0;
  friend bool operator==(const GuestBuffer&, const GuestBuffer&) = default;
};

class ChainResult;

class DescriptorChain {
 public:
  // Largest indirect table accepted (entries). Linux uses at most a few
  // dozen; this bounds the work a single chain can cost.
  static constexpr uint32_t kMaxIndirectEntries = 1024;
  // Largest total chain length (spec: a chain must not exceed 2^32 bytes).
  static constexpr uint64_t kMaxTotalLength = 0xffffffffu;

  // Walks the chain starting at `head` in the descriptor table at
  // `desc_table` (`queue_size` entries), applying every rule above.
  static ChainResult parse(const GuestMemory& mem, uint64_t desc_table, uint16_t queue_size, uint16_t head);

  uint16_t head() const { return head_; }
  std::span<const GuestBuffer> readable() const { return readable_; }
  std::span<const GuestBuffer> writable() const { return writable_; }
  uint32_t readable_len() const { return readable_len_; }
  uint32_t writable_len() const { return writable_len_; }
  // Descriptors visited (including zero-length ones and the indirect pointer).
  uint32_t descriptor_count() const { return descriptor_count_; }

  // Copy from the readable part starting `offset` bytes in. Returns the number
  // of bytes copied: min(out.size(), readable_len - offset), 0 past the end.
  [[nodiscard]] size_t read_at(const GuestMemory& mem, uint64_t offset, std::span<uint8_t> out) const;
  // The whole readable part; nullopt only if guest memory refused an access.
  [[nodiscard]] std::optional<std::vector<uint8_t>> read_all(const GuestMemory& mem) const;
  // Copy into the writable part starting `offset` bytes in (dirty-marked by
  // GuestMemory). Returns the number of bytes written, short at the end.
  [[nodiscard]] size_t write_at(GuestMemory& mem, uint64_t offset, std::span<const uint8_t> in) const;

  // Host views (iovecs) of part of the readable / writable data, for readv /
  // writev style I/O directly into guest memory. Covers [offset, offset+len)
  // clipped to the part's length; empty vector if offset is past the end.
  // Writable slices are marked dirty. nullopt only if guest memory refused.
  [[nodiscard]] std::optional<std::vector<GuestSlice>> readable_slices(GuestMemory& mem, uint64_t offset = 0,
                                                                       uint64_t len = UINT64_MAX) const;
  [[nodiscard]] std::optional<std::vector<GuestSlice>> writable_slices(GuestMemory& mem, uint64_t offset = 0,
                                                                       uint64_t len = UINT64_MAX) const;
  // readable_slices from `offset` to the end, appended to `out`, so that a
  // hot path can keep one vector's capacity across chains instead of
  // allocating one per chain. False only if guest memory refused (`out` may
  // then hold part of the list).
  [[nodiscard]] bool append_readable_slices(GuestMemory& mem, uint64_t offset, std::vector<GuestSlice>& out) const;

 private:
  DescriptorChain() = default;

  uint16_t head_ = 0;
  uint32_t descriptor_count_ = 0;
  uint32_t readable_len_ = 0;
  uint32_t writable_len_ = 0;
  std::vector<GuestBuffer> readable_;
  std::vector<GuestBuffer> writable_;

  friend class ChainWalker;
};

// What parsing or popping a chain yields: a chain, nothing (queue empty or
// not ready), or a guest error.
class [[nodiscard]] ChainResult {
 public:
  ChainResult() = default;  // nothing
  ChainResult(DescriptorChain chain) : value_(std::move(chain)) {}
  ChainResult(ChainError error) : value_(error) {}

  bool has_chain() const { return std::holds_alternative<DescriptorChain>(value_); }
  bool is_empty() const { return std::holds_alternative<std::monostate>(value_); }
  bool is_error() const { return std::holds_alternative<ChainError>(value_); }
  explicit operator bool() const { return has_chain(); }

  // Precondition: has_chain() / is_error() respectively (throws std::bad_variant_access).
  DescriptorChain& chain() { return std::get<DescriptorChain>(value_); }
  const DescriptorChain& chain() const { return std::get<DescriptorChain>(value_); }
  DescriptorChain& operator*() { return chain(); }
  DescriptorChain* operator->() { return &chain(); }
  ChainError error() const { return std::get<ChainError>(value_); }

 private:
  std::variant<std::monostate, DescriptorChain, ChainError> value_;
};

}  // namespace wren
