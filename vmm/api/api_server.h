#pragma once
// The control socket, speaking QEMU's QMP (docs/interop/qmp-spec in QEMU):
//   on connect: {"QMP": {"version": {...}, "capabilities": []}}
//   then only {"execute": "qmp_capabilities"} is accepted; after it, any command:
//   request:  {"execute": "query-rx-filter", "arguments": {...}, "id": ANY}
//   reply:    {"return": ..., "id": ANY}  or  {"error": {"class": "...", "desc": "..."}, "id": ANY}
//   event:    {"event": "NIC_RX_FILTER_CHANGED", "data": {...},
//              "timestamp": {"seconds": S, "microseconds": US}}  (negotiated clients only)
// Requests are JSON texts in a stream (a newline is not required).
// Handlers run on the event loop thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "vmm/api/qmp_protocol.h"

namespace wren {

// Thrown by a handler: becomes an error reply. A class that is not one of
// QEMU's goes out as GenericError (see qmp_error).
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

  // Registers (or replaces) a command. qmp_capabilities and query-commands are
  // built in. With `parameters`, an argument not named there is refused before
  // the handler runs, as QEMU refuses it ("Parameter 'x' is unexpected");
  // without, the handler checks its arguments itself.
  void add_command(const std::string& name, Handler handler,
                   std::optional<std::set<std::string>> parameters = std::nullopt);
  std::vector<std::string> command_names() const;
  // Sends an event to every negotiated client; callable from any thread.
  void emit(const std::string& event, nlohmann::json data = nullptr);

  // On the loop: calls `done` once every client has been sent all that is
  // queued for it (a VMM about to exit lets its last events out first), or
  // after `limit` if a client stops reading.
  void after_output_flushed(std::function<void()> done, std::chrono::milliseconds limit);

  // Handles one JSON text from a client in `mode` (updated by
  // qmp_capabilities); nullopt when nothing is to be sent back. Public for tests.
  std::optional<nlohmann::json> dispatch(const std::string& text, QmpMode& mode);
  // The same for a client that has negotiated already.
  nlohmann::json dispatch(const std::string& text);

 private:
  class Session;
  void accept();
  void poll_flushed(std::function<void()> done, std::chrono::steady_clock::time_point deadline);
  nlohmann::json run_command(const QmpRequest& request, QmpMode& mode);

  boost::asio::io_context& io_;
  std::string path_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  struct Command {
    Handler handler;
    std::optional<std::set<std::string>> parameters;
  };
  std::map<std::string, Command> commands_;
  std::set<std::shared_ptr<Session>> sessions_;
};

}  // namespace wren
