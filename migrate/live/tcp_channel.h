#pragma once
// Migration over TCP (Boost.Asio). Blocking calls, meant for a migration
// thread; every connect, read and write gives up after the no-progress
// timeout, so a link that goes silent (no RST, no FIN) fails instead of
// hanging. Asio stays out of this header.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "migrate/expected.h"
#include "migrate/live/channel.h"

namespace wren::migrate::live {

struct TcpAddress {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;
  // "HOST:PORT", IPv6 in brackets.
  std::string to_string() const;
};

// Parses "tcp:HOST:PORT" (IPv6: "tcp:[::1]:PORT"). Port 0 (the kernel picks
// one) only when `for_listening`. The error quotes `spec` and says what is
// wrong with it.
[[nodiscard]] Expected<TcpAddress> parse_tcp_address(std::string_view spec, bool for_listening = false);

class TcpChannel final : public Channel {
 public:
  // Resolves and connects within `io_timeout`; throws ChannelError naming
  // the address (refused, unreachable, timed out, unknown host).
  static std::unique_ptr<TcpChannel> connect(const TcpAddress& to,
                                             std::chrono::milliseconds io_timeout = kDefaultIoTimeout);
  ~TcpChannel() override;

  void send(std::span<const uint8_t> data) override;
  [[nodiscard]] size_t receive_some(std::span<uint8_t> out) override;
  [[nodiscard]] bool readable() override;
  void close() override;
  void set_io_timeout(std::chrono::milliseconds timeout) override;

  // "ADDR:PORT" of the other end.
  const std::string& peer() const;

  struct Impl;
  explicit TcpChannel(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Accepts the one connection of an incoming migration.
class TcpListener {
 public:
  // Binds and listens; throws ChannelError ("cannot listen on ADDR:PORT: ...").
  explicit TcpListener(const TcpAddress& at);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // The bound port (the kernel's choice for port 0).
  uint16_t port() const;
  // Waits for a connection: forever if `wait` is zero, else at most `wait`.
  // Throws ChannelError if close() was called, ChannelTimeout on `wait`.
  std::unique_ptr<TcpChannel> accept(std::chrono::milliseconds io_timeout = kDefaultIoTimeout,
                                     std::chrono::milliseconds wait = std::chrono::milliseconds{0});
  // Thread-safe: a pending accept() fails within 100 ms.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wren::migrate::live
