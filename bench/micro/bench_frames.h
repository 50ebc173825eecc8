#pragma once
// The frames both sides of the datapath microbenchmark send: IPv4/TCP
// packets with the virtio-net header a guest driver would put in front.
// Small frames carry no offload; a frame above the 1500-byte MTU is a TSO
// super-frame (NEEDS_CSUM, GSO_TCPV4, gso_size 1448), the only way such a
// frame crosses the bridge.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "virtio/net/mac_address.h"

namespace wren::bench {

inline constexpr size_t kHeaderSize = 12;  // VERSION_1 virtio_net_hdr (num_buffers included)
inline constexpr size_t kMaxPlainFrame = 1514;
inline constexpr size_t kTsoFrame = 65494;  // a 65480-byte IPv4 TCP segment
inline constexpr size_t kFrameSizes[] = {64, kMaxPlainFrame, kTsoFrame};

// The guest's and the peer's station addresses.
inline const MacAddress kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
inline const MacAddress kPeerMac{{0x52, 0x54, 0x00, 0xbe, 0xef, 0x01}};

struct BenchFrame {
  std::vector<uint8_t> header;  // kHeaderSize bytes, num_buffers 0
  std::vector<uint8_t> frame;   // Ethernet frame
  // header + frame, as one buffer.
  std::vector<uint8_t> joined() const;
};

// A frame of `frame_len` bytes (64 .. kTsoFrame) from `src` to `dst`.
BenchFrame make_frame(size_t frame_len, const MacAddress& src, const MacAddress& dst);

}  // namespace wren::bench
