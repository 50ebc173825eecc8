#include "migrate/live/tcp_channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cctype>

namespace wren::migrate::live {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

// How often a waiting accept() looks at close().
constexpr milliseconds kAcceptPoll{100};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool plausible_host(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_' || c == '%';
  });
}

std::string describe_endpoint(const tcp::endpoint& e) {
  const std::string address = e.address().to_string();
  return (e.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(e.port());
}

// Runs `io` until `done` or `timeout` passes without it; false on timeout.
bool run_until(asio::io_context& io, const bool& done, milliseconds timeout) {
  io.restart();
  io.run_for(timeout);
  return done;
}

}  // namespace

std::string TcpAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Expected<TcpAddress> parse_tcp_address(std::string_view spec, bool for_listening) {
  auto fail = [spec](const std::string& why) {
    return Failure{"'" + std::string(spec) + "': " + why + " (expected tcp:HOST:PORT)"};
  };
  constexpr std::string_view kPrefix = "tcp:";
  if (!spec.starts_with(kPrefix)) {
    const auto colon = spec.find(':');
    if (colon != std::string_view::npos && colon > 0 && !all_digits(spec.substr(colon + 1)))
      return fail("unsupported transport '" + std::string(spec.substr(0, colon)) + "'");
    return fail("missing the tcp: prefix");
  }
  const std::string_view rest = spec.substr(kPrefix.size());
  std::string_view host;
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
    host = rest.substr(1, close - 1);
    if (rest.substr(close + 1).rfind(':', 0) != 0) return fail("missing :PORT");
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("missing :PORT");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("an IPv6 address goes in brackets, e.g. tcp:[::1]:4444");
  }
  if (host.empty())
    return fail(for_listening ? "missing address (0.0.0.0 listens on every IPv4 address)" : "missing host");
  if (!plausible_host(host)) return fail("bad host '" + std::string(host) + "'");
  const unsigned lowest = for_listening ? 0 : 1;
  if (!all_digits(port) || port.size() > 5 || std::stoul(std::string(port)) > 65535 ||
      std::stoul(std::string(port)) < lowest)
    return fail("port '" + std::string(port) + "' is not a number " + std::to_string(lowest) + "..65535");
  return TcpAddress{std::string(host), static_cast<uint16_t>(std::stoul(std::string(port)))};
}

// ---- TcpChannel ---------------------------------------------------------------

struct TcpChannel::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  milliseconds timeout = kDefaultIoTimeout;
  std::atomic<int> fd{-1};  // for close() from another thread
  std::atomic<bool> closed{false};
  bool broken = false;
  std::string peer;

  void adopt_socket() {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // Commit and friends are tiny
    fd = socket.native_handle();
    const auto remote = socket.remote_endpoint(ignored);
    peer = ignored ? "?" : describe_endpoint(remote);
  }

  void check_usable() const {
    if (closed) throw ChannelError("channel closed");
    if (broken) throw ChannelError("connection to " + peer + " failed earlier");
  }

  // One read_some/write_some with the no-progress timeout.
  template <class Start>
  size_t transfer(Start start, const char* what) {
    check_usable();
    boost::system::error_code ec;
    size_t n = 0;
    bool done = false;
    start([&](const boost::system::error_code& e, size_t k) {
      ec = e;
      n = k;
      done = true;
    });
    if (!run_until(io, done, timeout)) {
      boost::system::error_code ignored;
      socket.cancel(ignored);
      io.restart();
      io.run();
      broken = true;
      throw ChannelTimeout("no progress " + std::string(what) + " " + peer + " for " + std::to_string(timeout.count()) +
                           " ms");
    }
    if (closed) throw ChannelError("channel closed");
    if (ec) {
      broken = true;
      if (ec == asio::error::eof) throw ChannelError("connection closed by " + peer);
      throw ChannelError(std::string(what) + " " + peer + ": " + ec.message());
    }
    return n;
  }
};

TcpChannel::TcpChannel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TcpChannel::~TcpChannel() = default;

std::unique_ptr<TcpChannel> TcpChannel::connect(const TcpAddress& to, milliseconds io_timeout) {
  auto impl = std::make_unique<Impl>();
  impl->timeout = std::max(io_timeout, milliseconds{1});
  const std::string where = to.to_string();
  boost::system::error_code ec;
  tcp::resolver resolver(impl->io);
  const auto endpoints = resolver.resolve(to.host, std::to_string(to.port), ec);
  if (ec) throw ChannelError("cannot resolve " + where + ": " + ec.message());
  bool done = false;
  asio::async_connect(impl->socket, endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (!run_until(impl->io, done, impl->timeout)) {
    boost::system::error_code ignored;
    impl->socket.close(ignored);
    impl->io.restart();
    impl->io.run();
    throw ChannelTimeout("cannot connect to " + where + ": no answer within " + std::to_string(impl->timeout.count()) +
                         " ms");
  }
  if (ec) throw ChannelError("cannot connect to " + where + ": " + ec.message());
  impl->adopt_socket();
  return std::make_unique<TcpChannel>(std::move(impl));
}

void TcpChannel::send(std::span<const uint8_t> data) {
  while (!data.empty()) {
    const size_t n = impl_->transfer(
        [&](auto handler) { impl_->socket.async_write_some(asio::buffer(data.data(), data.size()), handler); },
        "sending to");
    data = data.subspan(n);
  }
}

size_t TcpChannel::receive_some(std::span<uint8_t> out) {
  return impl_->transfer(
      [&](auto handler) { impl_->socket.async_read_some(asio::buffer(out.data(), out.size()), handler); },
      "receiving from");
}

bool TcpChannel::readable() {
  if (impl_->closed || impl_->broken) return true;
  pollfd p{impl_->fd.load(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

void TcpChannel::close() {
  if (impl_->closed.exchange(true)) return;
  // shutdown() rather than closing the descriptor: safe while another
  // thread waits on it, and the peer still gets what was sent, then FIN.
  if (const int fd = impl_->fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

void TcpChannel::set_io_timeout(milliseconds timeout) { impl_->timeout = std::max(timeout, milliseconds{1}); }

const std::string& TcpChannel::peer() const { return impl_->peer; }

// ---- TcpListener --------------------------------------------------------------

struct TcpListener::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> closed{false};
  std::string where;
};

TcpListener::TcpListener(const TcpAddress& at) : impl_(std::make_unique<Impl>()) {
  impl_->where = at.to_string();
  auto fail = [this](const std::string& why) { return ChannelError("cannot listen on " + impl_->where + ": " + why); };
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto endpoints = resolver.resolve(at.host, std::to_string(at.port), tcp::resolver::passive, ec);
  if (ec) throw fail(ec.message());
  if (endpoints.empty()) throw fail("no such address");
  const tcp::endpoint endpoint = *endpoints.begin();
  auto& a = impl_->acceptor;
  if (a.open(endpoint.protocol(), ec); ec) throw fail(ec.message());
  if (a.set_option(tcp::acceptor::reuse_address(true), ec); ec) throw fail(ec.message());
  if (a.bind(endpoint, ec); ec) throw fail(ec.message());
  if (a.listen(1, ec); ec) throw fail(ec.message());
  impl_->where = describe_endpoint(a.local_endpoint(ec));  // with the port the kernel chose
}

TcpListener::~TcpListener() = default;

uint16_t TcpListener::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

std::unique_ptr<TcpChannel> TcpListener::accept(milliseconds io_timeout, milliseconds wait) {
  auto channel = std::make_unique<TcpChannel::Impl>();
  channel->timeout = std::max(io_timeout, milliseconds{1});
  boost::system::error_code ec;
  bool done = false;
  impl_->acceptor.async_accept(channel->socket, [&](const boost::system::error_code& e) {
    ec = e;
    done = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + wait;
  while (!run_until(impl_->io, done, kAcceptPoll)) {
    const bool expired = wait.count() > 0 && std::chrono::steady_clock::now() >= give_up;
    if (impl_->closed || expired) {
      boost::system::error_code ignored;
      impl_->acceptor.cancel(ignored);
      impl_->io.restart();
      impl_->io.run();
      if (impl_->closed) throw ChannelError("stopped waiting for a migration on " + impl_->where);
      throw ChannelTimeout("no migration arrived on " + impl_->where + " within " + std::to_string(wait.count()) +
                           " ms");
    }
  }
  if (ec) throw ChannelError("accepting on " + impl_->where + ": " + ec.message());
  channel->adopt_socket();
  return std::make_unique<TcpChannel>(std::move(channel));
}

void TcpListener::close() { impl_->closed = true; }

}  // namespace wren::migrate::live
