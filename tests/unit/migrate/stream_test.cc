// The state-section container: round trip, and every way a stream can be
// malformed is refused with a message (never a crash, never a huge allocation).
#include "migrate/stream.h"

#include <gtest/gtest.h>

#include <cstring>

#include "migrate/crc32c.h"

namespace wren::migrate {
namespace {

std::vector<Payload> sample() {
  return {Payload{"virtio-net/rx-filter", 2, "net0", {1, 2, 3}}, Payload{"kvm/vcpu", 1, "cpu0", {}},
          Payload{"platform/uart16550", 1, "com1", std::vector<uint8_t>(1000, 0x5a)}};
}

// Builds a stream by hand (valid checksums over whatever the header says).
std::vector<uint8_t> handmade(uint32_t format, uint32_t count, const std::vector<Payload>& entries,
                              const std::vector<uint32_t>& lengths, const std::vector<uint8_t>& body) {
  VectorSink out;
  Crc32cSink all(out);
  {
    Crc32cSink header(static_cast<ByteSink&>(all));
    header.write(std::span(reinterpret_cast<const uint8_t*>(kStreamMagic), 8));
    put_u32(header, format);
    put_u32(header, count);
    for (size_t i = 0; i < entries.size(); ++i) {
      put_short_string(header, entries[i].kind);
      put_short_string(header, entries[i].instance);
      put_u32(header, entries[i].version);
      put_u32(header, lengths[i]);
    }
    put_u32(all, header.crc());
  }
  all.write(body);
  put_u32(out, all.crc());
  return out.bytes;
}

void expect_refused(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  auto r = decode_state_section(bytes);
  ASSERT_FALSE(r.ok()) << "accepted, expected: " << fragment;
  EXPECT_NE(r.error().find(fragment), std::string::npos) << r.error();
}

TEST(Stream, RoundTrip) {
  const auto payloads = sample();
  const auto bytes = encode_state_section(payloads);
  auto back = decode_state_section(bytes);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, payloads);
}

TEST(Stream, ChecksumsCoverWhatTheFormatSays) {
  const auto bytes = encode_state_section(sample());
  auto u32_at = [&](size_t at) {
    return uint32_t{bytes[at]} | uint32_t{bytes[at + 1]} << 8 | uint32_t{bytes[at + 2]} << 16 |
           uint32_t{bytes[at + 3]} << 24;
  };
  // The header: magic, format, count, 3 entries of (len+kind, len+instance, version, length).
  size_t header = 16;
  for (const auto& p : sample()) header += 1 + p.kind.size() + 1 + p.instance.size() + 8;
  const std::span<const uint8_t> all(bytes);
  EXPECT_EQ(u32_at(header), crc32c(all.first(header)));
  EXPECT_EQ(u32_at(bytes.size() - 4), crc32c(all.first(bytes.size() - 4)));  // everything from the magic on
}

TEST(Stream, EmptyRoundTrip) {
  auto back = decode_state_section(encode_state_section({}));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_TRUE(back->empty());
}

TEST(Stream, BadMagic) {
  auto bytes = encode_state_section(sample());
  bytes[0] = 'X';
  expect_refused(bytes, "bad magic");
}

TEST(Stream, UnknownFormatVersion) { expect_refused(handmade(2, 0, {}, {}, {}), "format version 2"); }

TEST(Stream, HeaderChecksum) {
  auto bytes = encode_state_section(sample());
  bytes[20] ^= 0x01;  // inside the first entry's kind
  expect_refused(bytes, "header checksum");
}

TEST(Stream, BodyChecksum) {
  auto bytes = encode_state_section(sample());
  bytes[bytes.size() - 10] ^= 0x80;  // payload data
  expect_refused(bytes, "checksum mismatch");
  auto bytes2 = encode_state_section(sample());
  bytes2.back() ^= 1;  // the checksum itself
  expect_refused(bytes2, "checksum mismatch");
}

TEST(Stream, OversizedPayloadLengthRefusedBeforeReading) {
  const Payload p{"kvm/vcpu", 1, "cpu0", {}};
  expect_refused(handmade(1, 1, {p}, {static_cast<uint32_t>(kMaxPayloadBytes + 1)}, {}),
                 "kvm/vcpu v1 (cpu0): length 67108865 exceeds the cap");
}

TEST(Stream, TotalCapAcrossPayloads) {
  std::vector<Payload> entries;
  std::vector<uint32_t> lengths;
  for (int i = 0; i < 5; ++i) {
    entries.push_back(Payload{"kvm/vcpu", 1, "cpu" + std::to_string(i), {}});
    lengths.push_back(static_cast<uint32_t>(kMaxPayloadBytes));
  }
  expect_refused(handmade(1, 5, entries, lengths, {}), "state section cap");
}

TEST(Stream, TooManyPayloads) { expect_refused(handmade(1, kMaxPayloads + 1, {}, {}, {}), "exceed the cap"); }

TEST(Stream, LyingLengthIsTruncationNotAllocation) {
  // Claims 64 MiB, has 3 bytes: refused as truncated.
  const Payload p{"kvm/vcpu", 1, "cpu0", {}};
  expect_refused(handmade(1, 1, {p}, {static_cast<uint32_t>(kMaxPayloadBytes)}, {1, 2, 3}), "truncated payload");
}

TEST(Stream, InvalidNames) {
  const Payload upper{"KVM/vcpu", 1, "cpu0", {}};
  expect_refused(handmade(1, 1, {upper}, {0}, {}), "invalid kind or instance");
  const Payload empty{"kvm/vcpu", 1, "", {}};
  expect_refused(handmade(1, 1, {empty}, {0}, {}), "invalid kind or instance");
}

TEST(Stream, EveryTruncationIsRefused) {
  const auto bytes = encode_state_section(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_state_section(std::span(bytes).first(n));
    EXPECT_FALSE(r.ok()) << "accepted a stream cut at " << n;
  }
}

TEST(Stream, TrailingBytesAfterSection) {
  auto bytes = encode_state_section(sample());
  bytes.push_back(0);
  expect_refused(bytes, "unexpected bytes after");
}

TEST(Stream, WriterRefusesWhatReadersWould) {
  EXPECT_THROW((void)encode_state_section(std::vector<Payload>{{"Bad Name", 1, "x", {}}}), std::invalid_argument);
  EXPECT_THROW(
      (void)encode_state_section(std::vector<Payload>{{"ok", 1, "x", std::vector<uint8_t>(kMaxPayloadBytes + 1)}}),
      std::invalid_argument);
}

}  // namespace
}  // namespace wren::migrate
