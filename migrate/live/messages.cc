#include "migrate/live/messages.h"

#include <algorithm>
#include <cstring>

namespace wren::migrate::live {

namespace {

bool printable(char c) { return c >= 0x20 && c <= 0x7e; }

}  // namespace

std::string MessageReader::short_string(const char* what) {
  auto s = need(get_short_string(source_));
  if (!std::all_of(s.begin(), s.end(), printable)) fail(std::string(what) + " is not printable ASCII");
  return s;
}

void MessageReader::end() {
  if (source_.remaining() != 0) fail(std::to_string(source_.remaining()) + " bytes left over");
}

void MessageReader::fail(const std::string& why) const {
  throw ProtocolError(message_name(type_) + " message: " + why);
}

std::optional<uint32_t> choose_version(std::span<const uint32_t> offered, std::span<const uint32_t> spoken) {
  std::optional<uint32_t> best;
  for (uint32_t v : offered)
    if (std::find(spoken.begin(), spoken.end(), v) != spoken.end() && (!best || v > *best)) best = v;
  return best;
}

std::string version_list(std::span<const uint32_t> versions) {
  std::string out;
  for (uint32_t v : versions) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return out.empty() ? "none" : out;
}

std::vector<uint8_t> encode_hello(std::span<const uint32_t> versions) {
  if (versions.empty() || versions.size() > kMaxOfferedVersions)
    throw std::invalid_argument("Hello: offer 1.." + std::to_string(kMaxOfferedVersions) + " versions");
  VectorSink out;
  out.write(std::span(reinterpret_cast<const uint8_t*>(kHelloMagic), sizeof kHelloMagic));
  put_u8(out, static_cast<uint8_t>(versions.size()));
  for (uint32_t v : versions) put_u32(out, v);
  return std::move(out.bytes);
}

std::vector<uint32_t> decode_hello(std::span<const uint8_t> payload) {
  MessageReader in(MessageType::hello, payload);
  uint8_t magic[sizeof kHelloMagic];
  in.bytes(magic);
  if (std::memcmp(magic, kHelloMagic, sizeof magic) != 0) in.fail("bad magic (not a Wren migration)");
  const uint8_t count = in.u8();
  if (count == 0 || count > kMaxOfferedVersions) in.fail("offers " + std::to_string(count) + " versions");
  std::vector<uint32_t> versions(count);
  for (auto& v : versions) v = in.u32();
  in.end();
  return versions;
}

std::vector<uint8_t> encode_welcome(uint32_t version) {
  VectorSink out;
  put_u32(out, version);
  return std::move(out.bytes);
}

uint32_t decode_welcome(std::span<const uint8_t> payload) {
  MessageReader in(MessageType::welcome, payload);
  const uint32_t version = in.u32();
  in.end();
  return version;
}

std::vector<uint8_t> encode_reason(const std::string& reason) {
  const size_t n = std::min(reason.size(), kMaxReasonBytes);
  VectorSink out;
  put_u16(out, static_cast<uint16_t>(n));
  out.write(std::span(reinterpret_cast<const uint8_t*>(reason.data()), n));
  return std::move(out.bytes);
}

std::string decode_reason(MessageType type, std::span<const uint8_t> payload) {
  MessageReader in(type, payload);
  const uint16_t n = in.u16();
  if (n > kMaxReasonBytes) in.fail("reason of " + std::to_string(n) + " bytes");
  std::string text(n, '\0');
  in.bytes(std::span(reinterpret_cast<uint8_t*>(text.data()), n));
  in.end();
  std::replace_if(
      text.begin(), text.end(), [](char c) { return !printable(c); }, '?');
  return text;
}

std::vector<uint8_t> encode_round_end(const RoundEnd& end) {
  VectorSink out;
  put_u32(out, end.round);
  put_u64(out, end.pages);
  return std::move(out.bytes);
}

RoundEnd decode_round_end(std::span<const uint8_t> payload) {
  MessageReader in(MessageType::round_end, payload);
  RoundEnd end;
  end.round = in.u32();
  end.pages = in.u64();
  in.end();
  return end;
}

std::vector<uint8_t> encode_state_end(uint64_t state_bytes) {
  VectorSink out;
  put_u64(out, state_bytes);
  return std::move(out.bytes);
}

uint64_t decode_state_end(std::span<const uint8_t> payload) {
  MessageReader in(MessageType::state_end, payload);
  const uint64_t bytes = in.u64();
  in.end();
  return bytes;
}

void expect_empty(MessageType type, std::span<const uint8_t> payload) {
  if (!payload.empty())
    MessageReader(type, payload).fail("expected no payload, got " + std::to_string(payload.size()) + " bytes");
}

}  // namespace wren::migrate::live
