#include "vmm/machine/serial_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace wren {

namespace asio = boost::asio;

SerialBackend::SerialBackend(const SerialConfig& config, asio::io_context& io) : config_(config), io_(io) {
  switch (config_.kind) {
    case SerialConfig::Kind::Stdio: out_fd_.reset(::dup(STDOUT_FILENO)); break;
    case SerialConfig::Kind::File: {
      int fd = ::open(config_.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) throw std::runtime_error("--serial: cannot open '" + config_.path + "': " + std::strerror(errno));
      out_fd_.reset(fd);
      break;
    }
    case SerialConfig::Kind::Unix: {
      ::unlink(config_.path.c_str());
      acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
      boost::system::error_code ec;
      acceptor_->open(asio::local::stream_protocol(), ec);
      if (!ec) acceptor_->bind(asio::local::stream_protocol::endpoint(config_.path), ec);
      if (!ec) acceptor_->listen(1, ec);
      if (ec) throw std::runtime_error("--serial: cannot listen on '" + config_.path + "': " + ec.message());
      break;
    }
    case SerialConfig::Kind::None: break;
  }
}

SerialBackend::~SerialBackend() {
  if (saved_termios_) ::tcsetattr(STDIN_FILENO, TCSANOW, &*saved_termios_);
  if (config_.kind == SerialConfig::Kind::Unix) ::unlink(config_.path.c_str());
}

void SerialBackend::write(std::span<const uint8_t> bytes) {
  std::lock_guard lock(out_mutex_);
  if (out_fd_.valid()) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(out_fd_.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // console gone: the guest must not stall on it
      done += static_cast<size_t>(n);
    }
  }
  if (client_ && client_->is_open()) {
    boost::system::error_code ec;
    asio::write(*client_, asio::buffer(bytes.data(), bytes.size()), ec);
  }
}

void SerialBackend::start_input(InputHandler on_input) {
  on_input_ = std::move(on_input);
  if (config_.kind == SerialConfig::Kind::Stdio && ::isatty(STDIN_FILENO)) {
    termios t{};
    if (::tcgetattr(STDIN_FILENO, &t) == 0) {
      saved_termios_ = t;
      ::cfmakeraw(&t);
      t.c_oflag |= OPOST | ONLCR;  // keep our own messages readable
      t.c_lflag |= ISIG;           // Ctrl-C still stops wren
      ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
  }
  if (config_.kind == SerialConfig::Kind::Stdio) {
    int fd = ::dup(STDIN_FILENO);
    if (fd >= 0) {
      stdin_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
      read_stdin();
    }
  } else if (config_.kind == SerialConfig::Kind::Unix) {
    accept_client();
  }
}

void SerialBackend::read_stdin() {
  stdin_->async_read_some(asio::buffer(in_buf_), [this](boost::system::error_code ec, size_t n) {
    if (ec) return;  // EOF or error: no more input, the guest keeps running
    on_input_(std::span<const uint8_t>(in_buf_.data(), n));
    read_stdin();
  });
}

void SerialBackend::accept_client() {
  auto sock = std::make_shared<asio::local::stream_protocol::socket>(io_);
  acceptor_->async_accept(*sock, [this, sock](boost::system::error_code ec) {
    if (ec) return;
    {
      std::lock_guard lock(out_mutex_);
      client_ = sock;
    }
    read_client();
  });
}

void SerialBackend::read_client() {
  client_->async_read_some(asio::buffer(in_buf_), [this](boost::system::error_code ec, size_t n) {
    if (ec) {
      std::lock_guard lock(out_mutex_);
      client_.reset();
      accept_client();
      return;
    }
    on_input_(std::span<const uint8_t>(in_buf_.data(), n));
    read_client();
  });
}

}  // namespace wren
