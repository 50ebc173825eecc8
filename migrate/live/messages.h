#pragma once
// Payloads of the small protocol messages (frames: frame.h; the whole
// exchange: PROTOCOL.md). Decoders throw ProtocolError naming the message,
// including for bytes left over.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "migrate/live/frame.h"

namespace wren::migrate::live {

// Reads one message's fields; a shortfall, leftover bytes or a bad value
// throws ProtocolError naming the message.
class MessageReader {
 public:
  MessageReader(MessageType type, std::span<const uint8_t> payload) : type_(type), source_(payload) {}

  uint8_t u8() { return need(get_u8(source_)); }
  uint16_t u16() { return need(get_u16(source_)); }
  uint32_t u32() { return need(get_u32(source_)); }
  uint64_t u64() { return need(get_u64(source_)); }
  void bytes(std::span<uint8_t> out) {
    if (!source_.read(out)) fail("truncated");
  }
  // u8 length + printable ASCII.
  std::string short_string(const char* what);
  // Call after the last field.
  void end();
  [[noreturn]] void fail(const std::string& why) const;

 private:
  template <class T>
  T need(std::optional<T> value) {
    if (!value) fail("truncated");
    return *value;
  }
  MessageType type_;
  SpanSource source_;
};

// v1: every page is sent as data. v2: all-zero pages go as zero runs
// (guest_pages.h kTagZero), a few bytes per run instead of 4 KiB a page.
inline constexpr uint32_t kProtocolV1 = 1;
inline constexpr uint32_t kProtocolV2 = 2;
inline constexpr uint32_t kProtocolCurrent = kProtocolV2;
// What this build speaks, preferred first.
inline const std::vector<uint32_t> kSupportedVersions{kProtocolV2, kProtocolV1};

inline constexpr char kHelloMagic[8] = {'W', 'R', 'E', 'N', 'L', 'I', 'V', 'E'};
inline constexpr size_t kMaxOfferedVersions = 16;
inline constexpr size_t kMaxReasonBytes = 1024;

// The highest version in both lists, if any.
[[nodiscard]] std::optional<uint32_t> choose_version(std::span<const uint32_t> offered,
                                                     std::span<const uint32_t> spoken);
// "1, 2".
[[nodiscard]] std::string version_list(std::span<const uint32_t> versions);

// Hello: magic, u8 count (1..16), u32 versions.
[[nodiscard]] std::vector<uint8_t> encode_hello(std::span<const uint32_t> versions);
[[nodiscard]] std::vector<uint32_t> decode_hello(std::span<const uint8_t> payload);

// Welcome: u32 chosen version.
[[nodiscard]] std::vector<uint8_t> encode_welcome(uint32_t version);
[[nodiscard]] uint32_t decode_welcome(std::span<const uint8_t> payload);

// Reject and Abort: u16 length, text (at most kMaxReasonBytes; longer text
// is cut). Decoding replaces bytes outside printable ASCII with '?', so a
// peer's reason is safe to log and print.
[[nodiscard]] std::vector<uint8_t> encode_reason(const std::string& reason);
[[nodiscard]] std::string decode_reason(MessageType type, std::span<const uint8_t> payload);

// RoundEnd: u32 round, u64 pages sent in it (data + zero).
struct RoundEnd {
  uint32_t round = 0;
  uint64_t pages = 0;
};
[[nodiscard]] std::vector<uint8_t> encode_round_end(const RoundEnd& end);
[[nodiscard]] RoundEnd decode_round_end(std::span<const uint8_t> payload);

// StateEnd: u64 bytes of the state section (the sum of the State chunks).
[[nodiscard]] std::vector<uint8_t> encode_state_end(uint64_t state_bytes);
[[nodiscard]] uint64_t decode_state_end(std::span<const uint8_t> payload);

// Pages: u32 round, then one page batch (guest_pages.h) to the frame's end,
// of at most kMaxPagesPerFrame pages (data and zero; about 1 MiB).
inline constexpr uint32_t kMaxPagesPerFrame = 256;
// Ready, ConfigOk, Commit, CommitAck: empty. Config: vm_config.h.
void expect_empty(MessageType type, std::span<const uint8_t> payload);

}  // namespace wren::migrate::live
