#pragma once
// The byte stream a live migration runs over: blocking, in order, reliable
// until it fails. Implementations: TCP (tcp_channel.h) and an in-memory pair
// with fault injection for tests (memory_channel.h).
//
// Every failure is a ChannelError (ChannelTimeout when nothing moved for the
// channel's no-progress timeout), after which the channel is unusable. A
// cut link that the kernel never notices (cable pulled, veth down) thus
// becomes an error instead of a hang.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

namespace wren::migrate::live {

class ChannelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ChannelTimeout : public ChannelError {
 public:
  using ChannelError::ChannelError;
};

// How long one read or write may wait without moving a byte.
inline constexpr std::chrono::milliseconds kDefaultIoTimeout{10'000};

class Channel {
 public:
  virtual ~Channel() = default;

  // Sends all of `data` or throws ChannelError.
  virtual void send(std::span<const uint8_t> data) = 0;
  // Receives at least one byte (at most out.size()) or throws ChannelError;
  // the end of the stream is an error too ("closed by the peer").
  [[nodiscard]] virtual size_t receive_some(std::span<uint8_t> out) = 0;
  // True if receive_some would not block: data, end of stream or an error.
  [[nodiscard]] virtual bool readable() = 0;
  // Ends the stream: the peer reads what was sent, then the end. Pending
  // and later calls on this side fail. Thread-safe and idempotent: another
  // thread may call it to unblock a send or receive.
  virtual void close() = 0;
  virtual void set_io_timeout(std::chrono::milliseconds timeout) = 0;

  // Fills `out` completely or throws ChannelError.
  void receive(std::span<uint8_t> out);
};

}  // namespace wren::migrate::live
