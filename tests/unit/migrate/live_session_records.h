#pragma once
// A migration session as the live destination fuzz target reads it, shared
// with the unit tests that write and check its seeds
// (live_session_records_test.cc). No googletest here.
//
// The input is a sequence of records, one per message the source sends:
//   u8  flags and type: the low 4 bits are the message type (1..13 are the
//       protocol's types, 0, 14 and 15 stay unknown types); bit 4 asks for
//       the checksums inside the payload to be recomputed (below)
//   u32 payload length, little-endian (clamped to the bytes left and to
//       kMaxFramePayload, so every record is used)
//   payload
// Each record goes out as a correctly framed and checksummed frame, so
// mutations reach the message decoders and the protocol state machine
// rather than dying at the frame checksum. With bit 4, a Pages payload gets
// its page batch CRC, and a State payload (taken as a whole state section)
// its header and section CRCs, fixed up too, so mutations also reach the
// page records, the payload decoders and the import rules; without it
// those checksums are checked as sent. The whole stream is queued on an
// in-memory link before the destination runs, and the source's side then
// stops sending (a half-close): the destination never waits for anything,
// and reads the end of the stream where the input ends.
#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "live_fake_destination.h"
#include "migrate/crc32c.h"
#include "migrate/live/frame.h"
#include "migrate/live/memory_channel.h"

namespace wren::migrate::live::testing {

// The guest RAM of both sides of a seed session and of the fuzzed
// destination: 24 + 16 pages in two regions (room for FakeSourceVm's pages,
// small enough that a v1 session, every page as data, stays a small seed).
inline std::vector<MemoryRegion> session_layout() { return small_layout(24); }

inline constexpr uint8_t kSessionTypeMask = 0x0f;
inline constexpr uint8_t kSessionFixChecksums = 0x10;

struct SessionRecord {
  MessageType type{};
  std::vector<uint8_t> payload;
};

namespace session_detail {

inline void store_u32(std::span<uint8_t> at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Pages: u32 round, page batch; the batch's last 4 bytes are the CRC of the
// rest of it.
inline void fix_page_batch_crc(std::vector<uint8_t>& p) {
  if (p.size() < 8) return;
  const std::span<uint8_t> batch = std::span(p).subspan(4);
  store_u32(batch.last(4), crc32c(batch.first(batch.size() - 4)));
}

// State section (migrate/stream.h): magic, u32 format, u32 count, count
// entries (u8-length kind, u8-length instance, u32 version, u32 length), u32
// header CRC, payload bodies, u32 CRC of everything before it.
inline void fix_state_section_crcs(std::vector<uint8_t>& p) {
  if (p.size() < 20) return;
  const uint32_t count = p[12] | p[13] << 8 | p[14] << 16 | static_cast<uint32_t>(p[15]) << 24;
  size_t header = 16;
  for (uint32_t i = 0; i < count && header < p.size(); ++i) {
    header += 1 + p[header];
    if (header < p.size()) header += 1 + p[header] + 8;
  }
  if (header + 8 <= p.size()) store_u32(std::span(p).subspan(header, 4), crc32c(std::span(p).first(header)));
  store_u32(std::span(p).last(4), crc32c(std::span(p).first(p.size() - 4)));
}

}  // namespace session_detail

inline std::vector<SessionRecord> parse_session_records(std::span<const uint8_t> input) {
  std::vector<SessionRecord> records;
  size_t at = 0;
  while (at < input.size()) {
    const uint8_t flags_and_type = input[at++];
    uint32_t length = 0;
    for (int i = 0; i < 4 && at < input.size(); ++i) length |= static_cast<uint32_t>(input[at++]) << (8 * i);
    const size_t n = std::min<size_t>({length, input.size() - at, kMaxFramePayload});
    SessionRecord r{static_cast<MessageType>(flags_and_type & kSessionTypeMask),
                    std::vector<uint8_t>(input.begin() + static_cast<std::ptrdiff_t>(at),
                                         input.begin() + static_cast<std::ptrdiff_t>(at + n))};
    at += n;
    if (flags_and_type & kSessionFixChecksums) {
      if (r.type == MessageType::pages) session_detail::fix_page_batch_crc(r.payload);
      if (r.type == MessageType::state) session_detail::fix_state_section_crcs(r.payload);
    }
    records.push_back(std::move(r));
  }
  return records;
}

inline void append_session_record(std::vector<uint8_t>& out, MessageType type, std::span<const uint8_t> payload,
                                  uint8_t flags = 0) {
  out.push_back(static_cast<uint8_t>(static_cast<uint8_t>(type) | flags));
  const auto length = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(length >> (8 * i)));
  out.insert(out.end(), payload.begin(), payload.end());
}

// Receives frames from `channel` until the end of the stream. A frame that
// is not valid throws ProtocolError.
inline std::vector<Frame> drain_frames(Channel& channel) {
  std::vector<Frame> frames;
  for (;;) {
    try {
      frames.push_back(receive_frame(channel));
    } catch (const ChannelError&) {
      return frames;
    }
  }
}

// The records of a byte stream a source sent (whole frames), Pages and
// State marked for checksum fix-up.
inline std::vector<uint8_t> session_records_from_wire(std::span<const uint8_t> wire) {
  MemoryChannelOptions options;
  options.capacity = wire.size() + 1;
  options.to_second.end_after = wire.size();
  auto pipe = make_memory_channel_pair(options);
  pipe.first->send(wire);
  std::vector<uint8_t> records;
  for (const Frame& f : drain_frames(*pipe.second)) {
    const bool checksummed = f.type == MessageType::pages || f.type == MessageType::state;
    append_session_record(records, f.type, f.payload, checksummed ? kSessionFixChecksums : 0);
  }
  return records;
}

// Passes everything through, noting a receive that would block (nothing to
// read and the stream not ended).
class BlockingProbe final : public Channel {
 public:
  explicit BlockingProbe(Channel& inner) : inner_(inner) {}
  void send(std::span<const uint8_t> data) override { inner_.send(data); }
  size_t receive_some(std::span<uint8_t> out) override {
    would_block = would_block || !inner_.readable();
    return inner_.receive_some(out);
  }
  bool readable() override { return inner_.readable(); }
  void close() override { inner_.close(); }
  void set_io_timeout(std::chrono::milliseconds timeout) override { inner_.set_io_timeout(timeout); }
  bool would_block = false;

 private:
  Channel& inner_;
};

struct SessionOutcome {
  DestinationResult result;
  std::vector<Frame> replies;  // what the destination sent, in order
  int restores = 0;
  bool took_everything = false;  // the fake machine's restore took all its payloads
  bool sent_commit = false;      // the input has a Commit record
  bool waited = false;           // the destination waited to receive
};

// Runs the destination, a FakeDestinationVm with `layout` and test_config(),
// on `input` (records).
inline SessionOutcome run_destination_session(std::span<const uint8_t> input,
                                              std::vector<MemoryRegion> layout = session_layout()) {
  const auto records = parse_session_records(input);
  uint64_t wire_bytes = 0;
  for (const auto& r : records) wire_bytes += kFrameHeaderBytes + r.payload.size() + kFrameTrailerBytes;

  MemoryChannelOptions link;
  // Everything the source sends is queued before the destination starts,
  // with room for the destination's few small answers, which no one reads
  // until it is done. So no read or write ever needs to wait (a receive that
  // would is a broken invariant); the timeouts only bound a run if one did.
  link.capacity = wire_bytes + (64 << 10);
  link.io_timeout = std::chrono::milliseconds{200};
  link.to_second.end_after = wire_bytes;
  auto pipe = make_memory_channel_pair(link);
  SessionOutcome out;
  for (const auto& r : records) {
    send_frame(*pipe.first, r.type, r.payload);
    out.sent_commit = out.sent_commit || r.type == MessageType::commit;
  }

  FakeDestinationVm vm(std::move(layout));
  DestinationOptions options;
  options.reject_linger = std::chrono::milliseconds{50};
  BlockingProbe probe(*pipe.second);
  MigrationDestination destination(vm, probe, options);
  out.result = destination.run();
  out.waited = probe.would_block;
  out.replies = drain_frames(*pipe.first);
  out.restores = vm.restores;
  out.took_everything = vm.taken.has_value();
  return out;
}

// What must hold after any session, whatever the source sent; the first
// violation.
inline std::optional<std::string> broken_invariant(const SessionOutcome& s) {
  const auto& r = s.result;
  if (s.waited) return "the destination waited on a fully queued link (" + r.error + ")";
  if (r.committed != r.error.empty()) return "committed, yet an error (or neither): '" + r.error + "'";
  if (s.restores > 1) return "restore() called " + std::to_string(s.restores) + " times";
  if (r.committed) {
    if (!s.sent_commit) return "committed without a Commit";
    if (s.restores != 1 || !s.took_everything) return "committed without restoring every payload";
    if (r.version != kProtocolV1 && r.version != kProtocolV2)
      return "committed on version " + std::to_string(r.version);
    if (s.replies.empty() || s.replies.back().type != MessageType::commit_ack) return "committed without CommitAck";
  }
  for (size_t i = 0; i < s.replies.size(); ++i) {
    const MessageType t = s.replies[i].type;
    if (t != MessageType::welcome && t != MessageType::config_ok && t != MessageType::ready &&
        t != MessageType::reject && t != MessageType::commit_ack)
      return "the destination sent " + message_name(t);
    if (t == MessageType::reject && (r.committed || i + 1 != s.replies.size())) return "Reject not last, or committed";
    if (t == MessageType::ready && s.restores != 1) return "Ready before restore";
  }
  return std::nullopt;
}

}  // namespace wren::migrate::live::testing
