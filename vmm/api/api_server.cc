#include "vmm/api/api_server.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>

#include "vmm/api/json_stream.h"

namespace wren {

namespace asio = boost::asio;
using json = nlohmann::json;

class ApiServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ApiServer& server, asio::local::stream_protocol::socket sock) : server_(server), sock_(std::move(sock)) {}

  void start() {
    send(qmp_greeting().dump() + "\r\n");
    read();
  }
  bool output_pending() const { return !out_.empty(); }
  bool negotiated() const { return mode_ == QmpMode::kCommands; }

  void send(std::string text) {
    const bool idle = out_.empty();
    out_.push_back(std::move(text));
    if (idle) write_next();
  }

 private:
  void read() {
    auto self = shared_from_this();
    sock_.async_read_some(asio::buffer(in_), [this, self](boost::system::error_code ec, size_t n) {
      if (ec) return close();
      for (const auto& text : splitter_.feed(std::string_view(in_.data(), n))) {
        if (text.empty()) {
          send(qmp_error("GenericError", "JSON parse error, request too large").dump() + "\r\n");
          continue;
        }
        if (auto reply = server_.dispatch(text, mode_)) send(reply->dump() + "\r\n");
      }
      read();
    });
  }

  void write_next() {
    auto self = shared_from_this();
    asio::async_write(sock_, asio::buffer(out_.front()), [this, self](boost::system::error_code ec, size_t) {
      if (ec) return close();
      out_.pop_front();
      if (!out_.empty()) write_next();
    });
  }

  void close() {
    boost::system::error_code ignored;
    sock_.close(ignored);
    server_.sessions_.erase(shared_from_this());
  }

  ApiServer& server_;
  asio::local::stream_protocol::socket sock_;
  std::array<char, 4096> in_{};
  JsonStreamSplitter splitter_;
  QmpMode mode_ = QmpMode::kNegotiating;
  std::deque<std::string> out_;
};

ApiServer::ApiServer(asio::io_context& io, const std::string& path) : io_(io), path_(path), acceptor_(io) {
  ::unlink(path.c_str());
  boost::system::error_code ec;
  acceptor_.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor_.bind(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) acceptor_.listen(8, ec);
  if (ec) throw std::runtime_error("--api: cannot listen on '" + path + "': " + ec.message());
  add_command(
      "query-commands",
      [this](const json&) {
        json out = json::array();
        for (const auto& name : command_names()) out.push_back({{"name", name}});
        return out;
      },
      std::set<std::string>{});
  accept();
}

ApiServer::~ApiServer() { ::unlink(path_.c_str()); }

void ApiServer::add_command(const std::string& name, Handler handler, std::optional<std::set<std::string>> parameters) {
  commands_[name] = Command{std::move(handler), std::move(parameters)};
}

std::vector<std::string> ApiServer::command_names() const {
  std::vector<std::string> names = {"qmp_capabilities"};
  for (const auto& [name, command] : commands_) names.push_back(name);
  return names;
}

void ApiServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::local::stream_protocol::socket sock) {
    if (ec) return;
    auto session = std::make_shared<Session>(*this, std::move(sock));
    sessions_.insert(session);
    session->start();
    accept();
  });
}

void ApiServer::emit(const std::string& event, json data) {
  const json msg = qmp_event(event, std::move(data), std::chrono::system_clock::now());
  asio::post(io_, [this, text = msg.dump() + "\r\n"] {
    for (const auto& s : sessions_)
      if (s->negotiated()) s->send(text);  // QEMU sends no events during negotiation
  });
}

void ApiServer::after_output_flushed(std::function<void()> done, std::chrono::milliseconds limit) {
  poll_flushed(std::move(done), std::chrono::steady_clock::now() + limit);
}

// Write completions run on this loop, so polling it briefly is enough.
void ApiServer::poll_flushed(std::function<void()> done, std::chrono::steady_clock::time_point deadline) {
  const bool pending =
      std::any_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s->output_pending(); });
  if (!pending || std::chrono::steady_clock::now() >= deadline) return done();
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(2));
  timer->async_wait([this, timer, done = std::move(done), deadline](boost::system::error_code) mutable {
    poll_flushed(std::move(done), deadline);
  });
}

json ApiServer::run_command(const QmpRequest& request, QmpMode& mode) {
  // As QEMU: during negotiation every other command is "not found"; after
  // it, qmp_capabilities itself is.
  if (request.command == "qmp_capabilities") {
    if (mode == QmpMode::kCommands)
      return qmp_error("CommandNotFound", "Capabilities negotiation is already complete, command ignored");
    if (request.arguments.contains("enable")) {
      const auto& enable = request.arguments["enable"];
      if (!enable.is_array()) return qmp_error("GenericError", "Parameter 'enable' expects array");
      if (!enable.empty()) {
        const std::string cap = enable[0].is_string() ? enable[0].get<std::string>() : enable[0].dump();
        return qmp_error("GenericError", "Capability '" + cap + "' not available");
      }
    }
    mode = QmpMode::kCommands;
    return {{"return", json::object()}};
  }
  if (mode == QmpMode::kNegotiating)
    return qmp_error("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
  auto it = commands_.find(request.command);
  if (it == commands_.end())
    return qmp_error("CommandNotFound", "The command " + request.command + " has not been found");
  if (const auto& known = it->second.parameters)
    for (const auto& [key, value] : request.arguments.items())
      if (!known->count(key)) return qmp_error("GenericError", "Parameter '" + key + "' is unexpected");
  try {
    return {{"return", it->second.handler(request.arguments)}};
  } catch (const ApiError& e) {
    return qmp_error(e.error_class(), e.what());
  } catch (const std::exception& e) {
    return qmp_error("GenericError", e.what());
  }
}

std::optional<json> ApiServer::dispatch(const std::string& text, QmpMode& mode) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }))
    return std::nullopt;
  auto parsed = parse_qmp_request(text);
  if (auto* error = std::get_if<json>(&parsed)) return std::move(*error);
  const auto& request = std::get<QmpRequest>(parsed);
  json reply = run_command(request, mode);
  if (request.id) reply["id"] = *request.id;
  return reply;
}

json ApiServer::dispatch(const std::string& text) {
  QmpMode mode = QmpMode::kCommands;
  return dispatch(text, mode).value_or(json::object());
}

}  // namespace wren
