#include "migrate/stream.h"

#include <cstring>
#include <stdexcept>

namespace wren::migrate {

namespace {

struct Entry {
  std::string kind;
  std::string instance;
  uint32_t version = 0;
  uint32_t length = 0;
};

void check_writable(std::span<const Payload> payloads) {
  if (payloads.size() > kMaxPayloads) throw std::invalid_argument("too many payloads");
  uint64_t total = 0;
  for (const auto& p : payloads) {
    if (!valid_payload_name(p.kind) || !valid_payload_name(p.instance))
      throw std::invalid_argument("bad payload name: " + describe(p));
    if (p.bytes.size() > kMaxPayloadBytes) throw std::invalid_argument("payload too large: " + describe(p));
    total += p.bytes.size();
  }
  if (total > kMaxStateBytes) throw std::invalid_argument("payloads exceed the state section cap");
}

Failure fail(const std::string& what) { return Failure{"snapshot stream: " + what}; }

}  // namespace

void write_state_section(ByteSink& out, std::span<const Payload> payloads) {
  check_writable(payloads);
  Crc32cSink sink(out);
  {
    Crc32cSink header(static_cast<ByteSink&>(sink));
    header.write(std::span(reinterpret_cast<const uint8_t*>(kStreamMagic), sizeof kStreamMagic));
    put_u32(header, kStreamFormatVersion);
    put_u32(header, static_cast<uint32_t>(payloads.size()));
    for (const auto& p : payloads) {
      put_short_string(header, p.kind);
      put_short_string(header, p.instance);
      put_u32(header, p.version);
      put_u32(header, static_cast<uint32_t>(p.bytes.size()));
    }
    put_u32(sink, header.crc());
  }
  for (const auto& p : payloads) sink.write(p.bytes);
  put_u32(out, sink.crc());
}

std::vector<uint8_t> encode_state_section(std::span<const Payload> payloads) {
  VectorSink sink;
  write_state_section(sink, payloads);
  return std::move(sink.bytes);
}

Expected<std::vector<Payload>> read_state_section(ByteSource& in) {
  Crc32cSource source(in);
  std::vector<Entry> entries;
  {
    Crc32cSource header(static_cast<ByteSource&>(source));
    uint8_t magic[sizeof kStreamMagic];
    if (!header.read(magic)) return fail("truncated before the magic");
    if (std::memcmp(magic, kStreamMagic, sizeof magic) != 0) return fail("bad magic (not a Wren snapshot)");
    const auto format = get_u32(header);
    if (!format) return fail("truncated header");
    if (*format != kStreamFormatVersion)
      return fail("format version " + std::to_string(*format) + " is not supported (this Wren reads " +
                  std::to_string(kStreamFormatVersion) + ")");
    const auto count = get_u32(header);
    if (!count) return fail("truncated header");
    if (*count > kMaxPayloads)
      return fail(std::to_string(*count) + " payloads exceed the cap of " + std::to_string(kMaxPayloads));
    uint64_t total = 0;
    for (uint32_t i = 0; i < *count; ++i) {
      Entry e;
      auto kind = get_short_string(header);
      auto instance = kind ? get_short_string(header) : std::nullopt;
      const auto version = instance ? get_u32(header) : std::nullopt;
      const auto length = version ? get_u32(header) : std::nullopt;
      if (!length) return fail("truncated header at payload " + std::to_string(i));
      if (!valid_payload_name(*kind) || !valid_payload_name(*instance))
        return fail("payload " + std::to_string(i) + " has an invalid kind or instance name");
      e.kind = std::move(*kind);
      e.instance = std::move(*instance);
      e.version = *version;
      e.length = *length;
      if (e.length > kMaxPayloadBytes)
        return fail(describe(e.kind, e.version, e.instance) + ": length " + std::to_string(e.length) +
                    " exceeds the cap of " + std::to_string(kMaxPayloadBytes));
      total += e.length;
      if (total > kMaxStateBytes) return fail("payloads exceed the state section cap");
      entries.push_back(std::move(e));
    }
    const uint32_t computed = header.crc();
    const auto stored = get_u32(source);
    if (!stored) return fail("truncated header");
    if (*stored != computed) return fail("header checksum mismatch");
  }
  std::vector<Payload> payloads;
  payloads.reserve(entries.size());
  for (auto& e : entries) {
    auto bytes = get_bytes(source, e.length);
    if (!bytes) return fail(describe(e.kind, e.version, e.instance) + ": truncated payload");
    payloads.push_back(Payload{std::move(e.kind), e.version, std::move(e.instance), std::move(*bytes)});
  }
  const uint32_t computed = source.crc();
  const auto stored = get_u32(in);
  if (!stored) return fail("truncated before the checksum");
  if (*stored != computed) return fail("checksum mismatch");
  return payloads;
}

Expected<std::vector<Payload>> decode_state_section(std::span<const uint8_t> bytes) {
  SpanSource source(bytes);
  auto payloads = read_state_section(source);
  if (payloads.ok() && source.remaining() != 0)
    return fail(std::to_string(source.remaining()) + " unexpected bytes after the state section");
  return payloads;
}

}  // namespace wren::migrate
