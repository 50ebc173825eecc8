#pragma once
// Where the guest's serial console goes: stdout/stdin, a file, a unix
// socket (one client at a time), or nowhere.
#include <termios.h>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "hypervisor/unique_fd.h"
#include "vmm/cli/run_config.h"

namespace wren {

class SerialBackend {
 public:
  using InputHandler = std::function<void(std::span<const uint8_t>)>;

  // Throws std::runtime_error with a readable message if the file or socket
  // cannot be opened.
  SerialBackend(const SerialConfig& config, boost::asio::io_context& io);
  ~SerialBackend();

  // Called from vCPU threads with guest output.
  void write(std::span<const uint8_t> bytes);
  // Starts delivering host input (stdin or socket client) to `on_input`.
  void start_input(InputHandler on_input);

 private:
  void read_stdin();
  void accept_client();
  void read_client();

  SerialConfig config_;
  boost::asio::io_context& io_;
  InputHandler on_input_;
  std::mutex out_mutex_;
  UniqueFd out_fd_;  // file or stdout duplicate
  std::optional<termios> saved_termios_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> stdin_;
  std::unique_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
  std::shared_ptr<boost::asio::local::stream_protocol::socket> client_;
  std::array<uint8_t, 256> in_buf_{};
};

}  // namespace wren
