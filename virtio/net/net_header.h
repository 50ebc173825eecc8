#pragma once
// The virtio-net packet header (virtio 1.2, 5.1.6): its size per negotiated
// features, encoding, and the checks applied on each direction.
//
// The TAP is opened with IFF_VNET_HDR and TUNSETVNETHDRSZ set to the
// guest's header size, so both sides speak the same layout; translation is
// validation plus sanitizing:
//  - TX (guest -> TAP): the guest's header is untrusted. Offload requests must
//    match negotiated host features, checksum positions must lie within the
//    packet, hdr_len is never used to size anything (CVE-2023-6693) and must
//    not exceed the packet. Refused packets are dropped and counted.
//  - RX (TAP -> guest): the kernel's header must only use offloads the guest
//    currently accepts; a partial checksum the guest cannot take is completed
//    here; a GSO packet the guest cannot take is dropped.
#include "virtio/net/virtio_net_abi.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace wren {

// Host-endian copy of every header field (absent fields are zero).
struct NetHeader {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
  uint16_t num_buffers = 0;  // 12-byte layouts only
  uint32_t hash_value = 0;   // 20-byte layout (HASH_REPORT) only
  uint16_t hash_report = 0;

  friend bool operator==(const NetHeader&, const NetHeader&) = default;
};

inline constexpr size_t kNetHeaderLegacySize = 10;  // virtio_net_hdr
inline constexpr size_t kNetHeaderMrgSize = 12;     // + num_buffers (always, for VERSION_1)
inline constexpr size_t kNetHeaderHashSize = 20;    // + hash_value, hash_report, padding

// Header size for the negotiated features: 20 with HASH_REPORT, 12 for
// VERSION_1 or MRG_RXBUF, else 10.
[[nodiscard]] size_t net_header_size(uint64_t features);

// Little-endian (virtio 1.x; legacy is guest-native, little-endian on x86).
// decode reads the fields `bytes` covers; encode writes exactly out.size()
// bytes (10, 12 or 20; padding zeroed).
[[nodiscard]] NetHeader decode_net_header(std::span<const uint8_t> bytes);
void encode_net_header(const NetHeader& header, std::span<uint8_t> out);
// Sets num_buffers in an encoded 12- or 20-byte header (MRG_RXBUF: how many
// chains one received frame spans).
void set_net_header_num_buffers(std::span<uint8_t> header, uint16_t count);

enum class NetHeaderError : uint8_t {
  None,
  CsumNotNegotiated,  // NEEDS_CSUM without the checksum offload
  CsumOutOfPacket,    // csum_start + csum_offset + 2 > packet length
  UnknownGsoType,
  GsoNotNegotiated,  // a GSO type (or ECN) whose offload is not on
  GsoWithoutCsum,    // GSO requires NEEDS_CSUM
  GsoSizeZero,
  HdrLenBeyondPacket,  // GSO hdr_len larger than the packet
};
std::string_view to_string(NetHeaderError error);

struct HeaderCheck {
  NetHeaderError error = NetHeaderError::None;
  NetHeader header;  // sanitized header to pass on when error == None
  bool ok() const { return error == NetHeaderError::None; }
};

// A guest TX header for a packet of `packet_len` bytes (after the header),
// checked against the negotiated `features` (CSUM, HOST_TSO4/6, HOST_ECN,
// HOST_UFO). The sanitized header clears flags a driver must not send on TX
// (DATA_VALID, RSC_INFO, unknown bits), num_buffers and the hash fields, and
// zeroes hdr_len when not GSO (it is only a hint there).
[[nodiscard]] HeaderCheck check_tx_header(const NetHeader& header, uint64_t features, size_t packet_len);

// A TAP RX header for `packet`, checked against the guest offloads currently
// enabled (`guest_offloads`, feature-bit positions). A partial checksum the
// guest did not enable is completed in `packet`. The result has num_buffers
// and hash fields zeroed (the caller fills them).
[[nodiscard]] HeaderCheck prepare_rx_header(const NetHeader& header, uint64_t guest_offloads,
                                            std::span<uint8_t> packet);

// Completes a partial checksum as the kernel's checksum helper does: the
// one's-complement sum of packet[start..] (whose checksum field already
// holds the pseudo-header sum) is complemented and stored big-endian at
// start + offset; a result of 0 is stored as 0xffff (UDP's "no checksum"
// would be 0). False (packet untouched) if the field is not inside.
[[nodiscard]] bool finish_checksum(std::span<uint8_t> packet, uint16_t start, uint16_t offset);

// One's-complement sum of `bytes` (16-bit big-endian words), folded, not inverted.
[[nodiscard]] uint16_t ones_complement_sum(std::span<const uint8_t> bytes, uint32_t initial = 0);

}  // namespace wren
