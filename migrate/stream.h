#pragma once
// The container that carries payloads in snapshot files and in the final
// phase of a live migration ("state section"). All integers little-endian:
//
//   "WRENSNAP"                    8-byte magic
//   u32 format version            kStreamFormatVersion
//   u32 payload count             <= kMaxPayloads
//   per payload:                  the header lists them all up front
//     u8 kind length, kind        valid_payload_name()
//     u8 instance length, instance
//     u32 version
//     u32 length                  <= kMaxPayloadBytes (sum <= kMaxStateBytes)
//   u32 header CRC-32C            over everything above: a corrupt length is
//                                 caught before any payload is read
//   payload bytes                 in header order, back to back
//   u32 CRC-32C                   over everything from the magic on
//
// Guest memory is not a payload: it follows as a page section
// (migrate/guest_pages.h), streamed with its own checksum.
#include <cstdint>
#include <span>
#include <vector>

#include "migrate/byte_io.h"
#include "migrate/expected.h"
#include "migrate/payload.h"

namespace wren::migrate {

inline constexpr char kStreamMagic[8] = {'W', 'R', 'E', 'N', 'S', 'N', 'A', 'P'};
inline constexpr uint32_t kStreamFormatVersion = 1;

// Throws std::invalid_argument if a payload breaks a cap or has a bad name
// (the writer's own bug, never input).
void write_state_section(ByteSink& sink, std::span<const Payload> payloads);
[[nodiscard]] std::vector<uint8_t> encode_state_section(std::span<const Payload> payloads);

// Reads exactly one state section. Every length is checked against its cap
// before anything is allocated; any inconsistency fails with a message that
// names the offending payload where there is one.
[[nodiscard]] Expected<std::vector<Payload>> read_state_section(ByteSource& source);
// As read_state_section, and the buffer must hold nothing after the section.
[[nodiscard]] Expected<std::vector<Payload>> decode_state_section(std::span<const uint8_t> bytes);

}  // namespace wren::migrate
