#pragma once
// Framed messages on a migration channel, little-endian:
//   u8  type          MessageType; any other value is refused
//   u32 length        payload bytes, <= kMaxFramePayload (checked before
//                     anything is allocated)
//   payload
//   u32 CRC-32C       over type, length and payload
// Message payloads are described in messages.h and PROTOCOL.md.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "migrate/byte_io.h"
#include "migrate/live/channel.h"

namespace wren::migrate::live {

enum class MessageType : uint8_t {
  hello = 1,
  welcome = 2,
  config = 3,
  config_ok = 4,
  pages = 5,
  round_end = 6,
  state = 7,
  state_end = 8,
  ready = 9,
  reject = 10,
  commit = 11,
  commit_ack = 12,
  abort = 13,
};

// "Hello", ...; "type 0x2a" for values outside the enum.
[[nodiscard]] std::string message_name(MessageType type);

// A pages frame holds at most 256 pages (about 1 MiB); state goes in chunks.
inline constexpr uint32_t kMaxFramePayload = 2u << 20;
inline constexpr size_t kFrameHeaderBytes = 5;
inline constexpr size_t kFrameTrailerBytes = 4;

// The peer sent something the protocol does not allow (bad checksum,
// unknown type, oversize frame, malformed payload, wrong message).
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Frame {
  MessageType type{};
  std::vector<uint8_t> payload;
};

// One outgoing frame: write its payload through the ByteSink interface, then
// send() it whole. Writing past kMaxFramePayload throws std::length_error
// (a bug of the writer, never input).
class FrameWriter final : public ByteSink {
 public:
  explicit FrameWriter(MessageType type);
  void write(std::span<const uint8_t> data) override;
  size_t payload_size() const { return bytes_.size() - kFrameHeaderBytes; }
  // Sends the frame; returns its size on the wire.
  size_t send(Channel& channel);

 private:
  std::vector<uint8_t> bytes_;
};

// A frame with `payload`; returns its size on the wire.
size_t send_frame(Channel& channel, MessageType type, std::span<const uint8_t> payload = {});

// The next frame, checked. Throws ProtocolError or ChannelError.
[[nodiscard]] Frame receive_frame(Channel& channel);

}  // namespace wren::migrate::live
