#include "migrate/live/frame.h"

#include <cstdio>

#include "migrate/crc32c.h"

namespace wren::migrate::live {

namespace {

bool known(uint8_t type) {
  return type >= static_cast<uint8_t>(MessageType::hello) && type <= static_cast<uint8_t>(MessageType::abort);
}

void store_u32(uint8_t* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t load_u32(const uint8_t* at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(at[i]) << (8 * i);
  return v;
}

}  // namespace

std::string message_name(MessageType type) {
  switch (type) {
    case MessageType::hello: return "Hello";
    case MessageType::welcome: return "Welcome";
    case MessageType::config: return "Config";
    case MessageType::config_ok: return "ConfigOk";
    case MessageType::pages: return "Pages";
    case MessageType::round_end: return "RoundEnd";
    case MessageType::state: return "State";
    case MessageType::state_end: return "StateEnd";
    case MessageType::ready: return "Ready";
    case MessageType::reject: return "Reject";
    case MessageType::commit: return "Commit";
    case MessageType::commit_ack: return "CommitAck";
    case MessageType::abort: return "Abort";
  }
  char text[16];
  std::snprintf(text, sizeof text, "type 0x%02x", static_cast<unsigned>(type));
  return text;
}

FrameWriter::FrameWriter(MessageType type) : bytes_(kFrameHeaderBytes, 0) { bytes_[0] = static_cast<uint8_t>(type); }

void FrameWriter::write(std::span<const uint8_t> data) {
  if (payload_size() + data.size() > kMaxFramePayload)
    throw std::length_error("migration frame payload over " + std::to_string(kMaxFramePayload) + " bytes");
  bytes_.insert(bytes_.end(), data.begin(), data.end());
}

size_t FrameWriter::send(Channel& channel) {
  store_u32(&bytes_[1], static_cast<uint32_t>(payload_size()));
  const uint32_t crc = crc32c(bytes_);
  bytes_.resize(bytes_.size() + kFrameTrailerBytes);
  store_u32(&bytes_[bytes_.size() - kFrameTrailerBytes], crc);
  channel.send(bytes_);
  return bytes_.size();
}

size_t send_frame(Channel& channel, MessageType type, std::span<const uint8_t> payload) {
  FrameWriter frame(type);
  frame.write(payload);
  return frame.send(channel);
}

Frame receive_frame(Channel& channel) {
  uint8_t header[kFrameHeaderBytes];
  channel.receive(header);
  if (!known(header[0])) throw ProtocolError("unknown message " + message_name(MessageType{header[0]}));
  const auto type = static_cast<MessageType>(header[0]);
  const uint32_t length = load_u32(&header[1]);
  if (length > kMaxFramePayload)
    throw ProtocolError(message_name(type) + " frame of " + std::to_string(length) + " bytes exceeds the cap of " +
                        std::to_string(kMaxFramePayload));
  Frame frame{type, std::vector<uint8_t>(length)};
  channel.receive(frame.payload);
  uint8_t trailer[kFrameTrailerBytes];
  channel.receive(trailer);
  const uint32_t computed = crc32c_extend(crc32c(header), frame.payload);
  if (load_u32(trailer) != computed) throw ProtocolError(message_name(type) + " frame: checksum mismatch");
  return frame;
}

}  // namespace wren::migrate::live
