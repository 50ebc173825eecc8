#include "virtio/net/net_header.h"

#include <linux/virtio_config.h>

#include <algorithm>

#include "virtio/net/net_features.h"

namespace wren {

std::string_view to_string(NetHeaderError error) {
  switch (error) {
    case NetHeaderError::None: return "ok";
    case NetHeaderError::CsumNotNegotiated: return "checksum offload not negotiated";
    case NetHeaderError::CsumOutOfPacket: return "checksum field outside the packet";
    case NetHeaderError::UnknownGsoType: return "unknown GSO type";
    case NetHeaderError::GsoNotNegotiated: return "GSO type not negotiated";
    case NetHeaderError::GsoWithoutCsum: return "GSO without NEEDS_CSUM";
    case NetHeaderError::GsoSizeZero: return "GSO with gso_size 0";
    case NetHeaderError::HdrLenBeyondPacket: return "hdr_len beyond the packet";
  }
  return "unknown";
}

size_t net_header_size(uint64_t features) {
  if (has_feature(features, VIRTIO_NET_F_HASH_REPORT)) return kNetHeaderHashSize;
  if (has_feature(features, VIRTIO_F_VERSION_1) || has_feature(features, VIRTIO_NET_F_MRG_RXBUF))
    return kNetHeaderMrgSize;
  return kNetHeaderLegacySize;
}

namespace {

uint16_t le16(std::span<const uint8_t> b, size_t at) {
  return at + 2 <= b.size() ? static_cast<uint16_t>(b[at] | b[at + 1] << 8) : 0;
}
void put_le16(std::span<uint8_t> b, size_t at, uint16_t v) {
  if (at + 2 > b.size()) return;
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}

constexpr uint8_t kKnownTxFlags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
constexpr uint8_t kGsoTypeMask = static_cast<uint8_t>(~VIRTIO_NET_HDR_GSO_ECN);

// Checks NEEDS_CSUM placement and the GSO fields against what is enabled
// (`csum_ok`: checksum offload on; `gso_bit`: feature bit per GSO type).
NetHeaderError check_offloads(const NetHeader& h, size_t packet_len, uint64_t enabled, unsigned tso4, unsigned tso6,
                              unsigned ufo, unsigned ecn) {
  const bool needs_csum = (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
  if (needs_csum && uint64_t{h.csum_start} + h.csum_offset + 2 > packet_len) return NetHeaderError::CsumOutOfPacket;

  const uint8_t type = h.gso_type & kGsoTypeMask;
  if (type == VIRTIO_NET_HDR_GSO_NONE) {
    return (h.gso_type & VIRTIO_NET_HDR_GSO_ECN) ? NetHeaderError::GsoNotNegotiated : NetHeaderError::None;
  }
  unsigned bit = 0;
  switch (type) {
    case VIRTIO_NET_HDR_GSO_TCPV4: bit = tso4; break;
    case VIRTIO_NET_HDR_GSO_TCPV6: bit = tso6; break;
    case VIRTIO_NET_HDR_GSO_UDP: bit = ufo; break;
    default: return NetHeaderError::UnknownGsoType;
  }
  if (!has_feature(enabled, bit)) return NetHeaderError::GsoNotNegotiated;
  if ((h.gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has_feature(enabled, ecn)) return NetHeaderError::GsoNotNegotiated;
  if (!needs_csum) return NetHeaderError::GsoWithoutCsum;
  if (h.gso_size == 0) return NetHeaderError::GsoSizeZero;
  if (h.hdr_len > packet_len) return NetHeaderError::HdrLenBeyondPacket;
  return NetHeaderError::None;
}

}  // namespace

NetHeader decode_net_header(std::span<const uint8_t> b) {
  NetHeader h;
  if (b.size() >= 1) h.flags = b[0];
  if (b.size() >= 2) h.gso_type = b[1];
  h.hdr_len = le16(b, 2);
  h.gso_size = le16(b, 4);
  h.csum_start = le16(b, 6);
  h.csum_offset = le16(b, 8);
  h.num_buffers = le16(b, 10);
  h.hash_value = static_cast<uint32_t>(le16(b, 12)) | static_cast<uint32_t>(le16(b, 14)) << 16;
  h.hash_report = le16(b, 16);
  return h;
}

void encode_net_header(const NetHeader& h, std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), uint8_t{0});
  if (out.size() >= 1) out[0] = h.flags;
  if (out.size() >= 2) out[1] = h.gso_type;
  put_le16(out, 2, h.hdr_len);
  put_le16(out, 4, h.gso_size);
  put_le16(out, 6, h.csum_start);
  put_le16(out, 8, h.csum_offset);
  put_le16(out, 10, h.num_buffers);
  put_le16(out, 12, static_cast<uint16_t>(h.hash_value));
  put_le16(out, 14, static_cast<uint16_t>(h.hash_value >> 16));
  put_le16(out, 16, h.hash_report);
}

void set_net_header_num_buffers(std::span<uint8_t> header, uint16_t count) { put_le16(header, 10, count); }

HeaderCheck check_tx_header(const NetHeader& header, uint64_t features, size_t packet_len) {
  HeaderCheck out;
  out.header = header;
  NetHeader& h = out.header;
  h.flags &= kKnownTxFlags;
  h.num_buffers = 0;
  h.hash_value = 0;
  h.hash_report = 0;
  if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has_feature(features, VIRTIO_NET_F_CSUM)) {
    out.error = NetHeaderError::CsumNotNegotiated;
    return out;
  }
  out.error = check_offloads(h, packet_len, features, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
                             VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_HOST_ECN);
  if ((h.gso_type & kGsoTypeMask) == VIRTIO_NET_HDR_GSO_NONE) {
    h.hdr_len = 0;
    h.gso_size = 0;
  }
  return out;
}

HeaderCheck prepare_rx_header(const NetHeader& header, uint64_t guest_offloads, std::span<uint8_t> packet) {
  HeaderCheck out;
  out.header = header;
  NetHeader& h = out.header;
  h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
  h.num_buffers = 0;
  h.hash_value = 0;
  h.hash_report = 0;
  out.error = check_offloads(h, packet.size(), guest_offloads, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
                             VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_ECN);
  if (!out.ok()) return out;
  if (!has_feature(guest_offloads, VIRTIO_NET_F_GUEST_CSUM)) {
    // GSO always carries NEEDS_CSUM, and GSO needs guest TSO/UFO, which
    // without GUEST_CSUM the spec does not allow: drop such a packet.
    if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
      out.error = NetHeaderError::CsumNotNegotiated;
      return out;
    }
    if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !finish_checksum(packet, h.csum_start, h.csum_offset)) {
      out.error = NetHeaderError::CsumOutOfPacket;
      return out;
    }
    h = NetHeader{};  // without GUEST_CSUM the device must send flags = 0
  }
  return out;
}

uint16_t ones_complement_sum(std::span<const uint8_t> bytes, uint32_t initial) {
  uint64_t sum = initial;
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  if (i < bytes.size()) sum += static_cast<uint32_t>(bytes[i] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

bool finish_checksum(std::span<uint8_t> packet, uint16_t start, uint16_t offset) {
  const uint64_t field = uint64_t{start} + offset;
  if (field + 2 > packet.size()) return false;
  uint16_t csum = static_cast<uint16_t>(~ones_complement_sum(packet.subspan(start)));
  // A computed 0 goes out as 0xffff (the same value in one's complement):
  // for UDP, 0 means "no checksum" (RFC 768) and is invalid over IPv6
  // (RFC 8200). The kernel does the same (CSUM_MANGLED_0).
  if (csum == 0) csum = 0xffff;
  packet[field] = static_cast<uint8_t>(csum >> 8);
  packet[field + 1] = static_cast<uint8_t>(csum);
  return true;
}

}  // namespace wren
