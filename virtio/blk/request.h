#pragma once
// Parsing and validating one virtio-blk request (virtio 1.2, 5.2.6) as a pure
// function over host copies: the 16-byte header, the chain's shape (readable
// and writable lengths) and, for DISCARD / WRITE_ZEROES, the copied segment
// table. Nothing here touches guest memory or the image, so every rule can
// be tested on its own and nothing reaches the disk before it passed.
//
// Chain layout (any framing; only byte offsets matter, VIRTIO_F_ANY_LAYOUT):
//   readable: header (16 bytes) [+ data for OUT / segments for DISCARD, WRITE_ZEROES]
//   writable: [data for IN / the id for GET_ID] + status (the last byte)
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace wren::blk {

inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint64_t kHeaderSize = 16;
inline constexpr uint64_t kSegmentSize = 16;  // struct virtio_blk_discard_write_zeroes
inline constexpr uint64_t kIdBytes = 20;      // VIRTIO_BLK_ID_BYTES

// Request types (VIRTIO_BLK_T_*) and statuses (VIRTIO_BLK_S_*).
inline constexpr uint32_t kTypeIn = 0;
inline constexpr uint32_t kTypeOut = 1;
inline constexpr uint32_t kTypeFlush = 4;
inline constexpr uint32_t kTypeGetId = 8;
inline constexpr uint32_t kTypeDiscard = 11;
inline constexpr uint32_t kTypeWriteZeroes = 13;
inline constexpr uint8_t kStatusOk = 0;
inline constexpr uint8_t kStatusIoErr = 1;
inline constexpr uint8_t kStatusUnsupp = 2;
inline constexpr uint32_t kWriteZeroesFlagUnmap = 1;

enum class RequestKind : uint8_t { Read, Write, Flush, GetId, Discard, WriteZeroes };
std::string_view to_string(RequestKind kind);

// What the device allows; derived from the image, the options and the
// negotiated features.
struct DiskLimits {
  uint64_t capacity_sectors = 0;
  bool read_only = false;
  bool flush = false;         // VIRTIO_BLK_F_FLUSH negotiated
  bool discard = false;       // VIRTIO_BLK_F_DISCARD negotiated
  bool write_zeroes = false;  // VIRTIO_BLK_F_WRITE_ZEROES negotiated
  uint32_t block_size = 512;  // bytes; data lengths and offsets are multiples of it
  uint32_t max_discard_sectors = 0;
  uint32_t max_discard_segments = 0;
  uint32_t max_write_zeroes_sectors = 0;
  uint32_t max_write_zeroes_segments = 0;
};

// The chain could not carry a request at all: no status byte to answer in,
// or no complete header. The device cannot reply with a status; it returns
// the chain with nothing written and treats it as a driver error.
enum class Malformed : uint8_t { NoStatus, ShortHeader };
std::string_view to_string(Malformed m);

// A request refused with a status before any I/O, and why (for counters).
struct Rejection {
  uint8_t status = kStatusIoErr;
  std::string_view reason;
};

// A request that passed every check.
struct Request {
  RequestKind kind = RequestKind::Read;
  uint64_t offset = 0;    // bytes into the image (Read, Write)
  uint64_t length = 0;    // data bytes (Read, Write: the data part; GetId: kIdBytes)
  uint32_t segments = 0;  // Discard / WriteZeroes: number of segments to read
};

// A parsed header.
struct Header {
  uint32_t type = 0;
  uint64_t sector = 0;
  static Header decode(std::span<const uint8_t, kHeaderSize> bytes);
};

struct ChainShape {
  uint64_t readable_len = 0;
  uint64_t writable_len = 0;
};

// Step 1: the chain can carry a request (header and status present).
[[nodiscard]] std::optional<Malformed> check_shape(const ChainShape& shape);

// Step 2 (after check_shape passed): type, data direction, lengths, range.
// Returns the request, or the status to answer with.
struct Parsed {
  std::optional<Request> request;
  Rejection rejection;
  bool ok() const { return request.has_value(); }
};
[[nodiscard]] Parsed parse(const Header& header, const ChainShape& shape, const DiskLimits& limits);

// One DISCARD / WRITE_ZEROES range, validated.
struct Range {
  uint64_t offset = 0;  // bytes
  uint64_t length = 0;  // bytes
  bool may_unmap = false;
  friend bool operator==(const Range&, const Range&) = default;
};

// Step 3 for DISCARD / WRITE_ZEROES: the copied segment table
// (request.segments * kSegmentSize bytes).
struct ParsedRanges {
  std::vector<Range> ranges;
  std::optional<Rejection> rejection;
};
[[nodiscard]] ParsedRanges parse_ranges(RequestKind kind, std::span<const uint8_t> table, const DiskLimits& limits);

// The GET_ID answer: the serial, truncated to 20 bytes, NUL padded.
std::array<uint8_t, kIdBytes> id_bytes(std::string_view serial);

}  // namespace wren::blk
