#pragma once
// The control socket: JSON lines over a unix socket.
//   request:  {"execute": "query-rx-filter", "arguments": {...}}
//   reply:    {"return": {...}}  or  {"error": {"class": "...", "desc": "..."}}
//   event:    {"event": "NIC_RX_FILTER_CHANGED", "data": {...}, "timestamp": ...}
// Handlers run on the event loop thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace wren {

class ApiError : public std::runtime_error {
 public:
  ApiError(std::string cls, const std::string& desc) : std::runtime_error(desc), cls_(std::move(cls)) {}
  const std::string& error_class() const { return cls_; }

 private:
  std::string cls_;
};

class ApiServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& arguments)>;

  // Listens on `path` (replacing a stale socket file); throws with a clear message on failure.
  ApiServer(boost::asio::io_context& io, const std::string& path);
  ~ApiServer();

  void add_command(const std::string& name, Handler handler);
  // Sends an event to every connected client; callable from any thread.
  void emit(const std::string& event, nlohmann::json data);

  // On the loop: calls `done` once every client has been sent all that is
  // queued for it (a VMM about to exit lets its last events out first), or
  // after `limit` if a client stops reading.
  void after_output_flushed(std::function<void()> done, std::chrono::milliseconds limit);

  // Handles one request line; public for unit tests.
  nlohmann::json dispatch(const std::string& line);

 private:
  class Session;
  void accept();
  void poll_flushed(std::function<void()> done, std::chrono::steady_clock::time_point deadline);

  boost::asio::io_context& io_;
  std::string path_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::map<std::string, Handler> handlers_;
  std::set<std::shared_ptr<Session>> sessions_;
};

}  // namespace wren
