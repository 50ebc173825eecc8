#include "virtio/blk/request.h"

#include <algorithm>
#include <cstring>

namespace wren::blk {

namespace {

uint64_t le(std::span<const uint8_t> b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}

Parsed reject(uint8_t status, std::string_view reason) { return Parsed{std::nullopt, Rejection{status, reason}}; }

// [sector * 512, + length) within the image, with no overflow anywhere.
bool in_range(uint64_t sector, uint64_t length, uint64_t capacity_sectors) {
  if (sector > capacity_sectors) return false;
  const uint64_t capacity = capacity_sectors * kSectorSize;  // capacity_sectors < 2^55 (image size)
  const uint64_t offset = sector * kSectorSize;
  return length <= capacity - offset;
}

}  // namespace

std::string_view to_string(RequestKind kind) {
  switch (kind) {
    case RequestKind::Read: return "read";
    case RequestKind::Write: return "write";
    case RequestKind::Flush: return "flush";
    case RequestKind::GetId: return "get-id";
    case RequestKind::Discard: return "discard";
    case RequestKind::WriteZeroes: return "write-zeroes";
  }
  return "?";
}

std::string_view to_string(Malformed m) {
  switch (m) {
    case Malformed::NoStatus: return "no writable status byte";
    case Malformed::ShortHeader: return "request header shorter than 16 bytes";
  }
  return "?";
}

Header Header::decode(std::span<const uint8_t, kHeaderSize> bytes) {
  // ioprio (bytes 4..7) is reserved and ignored.
  return Header{static_cast<uint32_t>(le(bytes, 0, 4)), le(bytes, 8, 8)};
}

std::optional<Malformed> check_shape(const ChainShape& shape) {
  if (shape.writable_len < 1) return Malformed::NoStatus;
  if (shape.readable_len < kHeaderSize) return Malformed::ShortHeader;
  return std::nullopt;
}

Parsed parse(const Header& header, const ChainShape& shape, const DiskLimits& limits) {
  if (check_shape(shape)) return reject(kStatusIoErr, "malformed chain");
  const uint64_t data_out = shape.readable_len - kHeaderSize;  // driver -> device bytes after the header
  const uint64_t data_in = shape.writable_len - 1;             // device -> driver bytes before the status
  const uint64_t block = std::max<uint32_t>(limits.block_size, kSectorSize);
  switch (header.type) {
    case kTypeIn:
    case kTypeOut: {
      const bool write = header.type == kTypeOut;
      if (write ? data_in != 0 : data_out != 0) return reject(kStatusIoErr, "data in the wrong direction");
      const uint64_t length = write ? data_out : data_in;
      if (length % block) return reject(kStatusIoErr, "data length not a multiple of the block size");
      if (!in_range(header.sector, length, limits.capacity_sectors))
        return reject(kStatusIoErr, "sector range beyond capacity");
      if ((header.sector * kSectorSize) % block) return reject(kStatusIoErr, "sector not aligned to the block size");
      if (write && limits.read_only) return reject(kStatusIoErr, "write to a read-only disk");
      return Parsed{Request{write ? RequestKind::Write : RequestKind::Read, header.sector * kSectorSize, length, 0},
                    {}};
    }
    case kTypeFlush:
      if (!limits.flush) return reject(kStatusUnsupp, "flush not negotiated");
      if (data_in != 0 || data_out != 0) return reject(kStatusIoErr, "flush with data");
      return Parsed{Request{RequestKind::Flush, 0, 0, 0}, {}};
    case kTypeGetId:
      if (data_out != 0) return reject(kStatusIoErr, "get-id with driver data");
      if (data_in < kIdBytes) return reject(kStatusIoErr, "get-id buffer shorter than 20 bytes");
      return Parsed{Request{RequestKind::GetId, 0, kIdBytes, 0}, {}};
    case kTypeDiscard:
    case kTypeWriteZeroes: {
      const bool discard = header.type == kTypeDiscard;
      if (!(discard ? limits.discard : limits.write_zeroes))
        return reject(kStatusUnsupp, discard ? "discard not negotiated" : "write-zeroes not negotiated");
      if (data_in != 0) return reject(kStatusIoErr, "data in the wrong direction");
      if (data_out == 0 || data_out % kSegmentSize) return reject(kStatusIoErr, "segment table of a bad length");
      const uint64_t max = discard ? limits.max_discard_segments : limits.max_write_zeroes_segments;
      if (data_out / kSegmentSize > max) return reject(kStatusIoErr, "too many segments");
      if (limits.read_only) return reject(kStatusIoErr, "write to a read-only disk");
      return Parsed{Request{discard ? RequestKind::Discard : RequestKind::WriteZeroes, 0, 0,
                            static_cast<uint32_t>(data_out / kSegmentSize)},
                    {}};
    }
    default: return reject(kStatusUnsupp, "unknown request type");
  }
}

ParsedRanges parse_ranges(RequestKind kind, std::span<const uint8_t> table, const DiskLimits& limits) {
  ParsedRanges out;
  const bool discard = kind == RequestKind::Discard;
  if ((!discard && kind != RequestKind::WriteZeroes) || table.empty() || table.size() % kSegmentSize) {
    out.rejection = Rejection{kStatusIoErr, "segment table of a bad length"};
    return out;
  }
  const uint64_t max_sectors = discard ? limits.max_discard_sectors : limits.max_write_zeroes_sectors;
  const uint64_t block_sectors = std::max<uint32_t>(limits.block_size, kSectorSize) / kSectorSize;
  for (size_t at = 0; at < table.size(); at += kSegmentSize) {
    const uint64_t sector = le(table, at, 8);
    const uint64_t sectors = le(table, at + 8, 4);
    const uint32_t flags = static_cast<uint32_t>(le(table, at + 12, 4));
    // Discard defines no flags (unmap is for write-zeroes only): the spec
    // wants UNSUPP for an unmap bit there and for any reserved bit.
    const uint32_t allowed = discard ? 0 : kWriteZeroesFlagUnmap;
    if (flags & ~allowed) {
      out.ranges.clear();
      out.rejection = Rejection{kStatusUnsupp, "segment flags not supported"};
      return out;
    }
    if (sectors > max_sectors || sector % block_sectors || sectors % block_sectors ||
        !in_range(sector, sectors * kSectorSize, limits.capacity_sectors)) {
      out.ranges.clear();
      out.rejection = Rejection{kStatusIoErr, "segment out of range"};
      return out;
    }
    if (sectors == 0) continue;
    out.ranges.push_back(Range{sector * kSectorSize, sectors * kSectorSize, (flags & kWriteZeroesFlagUnmap) != 0});
  }
  return out;
}

std::array<uint8_t, kIdBytes> id_bytes(std::string_view serial) {
  std::array<uint8_t, kIdBytes> out{};
  std::memcpy(out.data(), serial.data(), std::min<size_t>(serial.size(), kIdBytes));
  return out;
}

}  // namespace wren::blk
