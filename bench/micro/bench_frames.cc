#include "bench/micro/bench_frames.h"

#include "virtio/net/virtio_net_abi.h"

#include <stdexcept>

#include "virtio/net/net_header.h"

namespace wren::bench {

namespace {

constexpr size_t kEthLen = 14;
constexpr size_t kIpLen = 20;
constexpr size_t kTcpLen = 20;
constexpr size_t kHeadersLen = kEthLen + kIpLen + kTcpLen;
constexpr uint16_t kMss = 1448;

void put_be16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

uint16_t fold_complement(uint16_t sum) { return static_cast<uint16_t>(~sum); }

}  // namespace

std::vector<uint8_t> BenchFrame::joined() const {
  std::vector<uint8_t> all(header);
  all.insert(all.end(), frame.begin(), frame.end());
  return all;
}

BenchFrame make_frame(size_t frame_len, const MacAddress& src, const MacAddress& dst) {
  if (frame_len < kHeadersLen + 2 || frame_len > kTsoFrame) throw std::invalid_argument("make_frame: bad length");
  BenchFrame f;
  auto& b = f.frame;
  b.assign(frame_len, 0);
  std::copy(dst.bytes.begin(), dst.bytes.end(), b.begin());
  std::copy(src.bytes.begin(), src.bytes.end(), b.begin() + 6);
  put_be16(b, 12, 0x0800);

  const size_t ip = kEthLen;
  const uint16_t ip_total = static_cast<uint16_t>(frame_len - kEthLen);
  b[ip] = 0x45;
  put_be16(b, ip + 2, ip_total);
  b[ip + 6] = 0x40;  // don't fragment
  b[ip + 8] = 64;    // ttl
  b[ip + 9] = 6;     // tcp
  const uint8_t addrs[8] = {10, 99, 0, 1, 10, 99, 0, 2};
  std::copy(std::begin(addrs), std::end(addrs), b.begin() + ip + 12);
  put_be16(b, ip + 10, fold_complement(ones_complement_sum(std::span(b).subspan(ip, kIpLen))));

  const size_t tcp = ip + kIpLen;
  put_be16(b, tcp, 40000);
  put_be16(b, tcp + 2, 5001);
  b[tcp + 12] = 0x50;  // data offset 5
  b[tcp + 13] = 0x10;  // ACK
  put_be16(b, tcp + 14, 0xffff);
  for (size_t i = kHeadersLen; i < frame_len; ++i) b[i] = static_cast<uint8_t>(i * 7);

  // Pseudo-header sum (what a driver leaves in the field for NEEDS_CSUM).
  const uint16_t tcp_len = static_cast<uint16_t>(ip_total - kIpLen);
  std::vector<uint8_t> pseudo(addrs, addrs + 8);
  pseudo.insert(pseudo.end(), {0, 6, static_cast<uint8_t>(tcp_len >> 8), static_cast<uint8_t>(tcp_len)});
  const uint16_t pseudo_sum = ones_complement_sum(pseudo);

  NetHeader h;
  if (frame_len > kMaxPlainFrame) {
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h.hdr_len = kHeadersLen;
    h.gso_size = kMss;
    h.csum_start = static_cast<uint16_t>(tcp);
    h.csum_offset = 16;
    put_be16(b, tcp + 16, pseudo_sum);
  } else {
    put_be16(b, tcp + 16, fold_complement(ones_complement_sum(std::span(b).subspan(tcp), pseudo_sum)));
  }
  f.header.assign(kHeaderSize, 0);
  encode_net_header(h, f.header);
  return f;
}

}  // namespace wren::bench
