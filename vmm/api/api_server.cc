#include "vmm/api/api_server.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <istream>

namespace wren {

namespace asio = boost::asio;
using json = nlohmann::json;

class ApiServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ApiServer& server, asio::local::stream_protocol::socket sock) : server_(server), sock_(std::move(sock)) {}

  void start() { read(); }
  bool output_pending() const { return !out_.empty(); }

  void send(std::string line) {
    const bool idle = out_.empty();
    out_.push_back(std::move(line));
    if (idle) write_next();
  }

 private:
  static constexpr size_t kMaxRequest = 1 << 20;

  void read() {
    auto self = shared_from_this();
    asio::async_read_until(sock_, in_, '\n', [this, self](boost::system::error_code ec, size_t) {
      if (ec) return close();
      std::istream is(&in_);
      std::string line;
      std::getline(is, line);
      send(server_.dispatch(line).dump() + "\n");
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
  asio::streambuf in_{kMaxRequest};
  std::deque<std::string> out_;
};

ApiServer::ApiServer(asio::io_context& io, const std::string& path) : io_(io), path_(path), acceptor_(io) {
  ::unlink(path.c_str());
  boost::system::error_code ec;
  acceptor_.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor_.bind(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) acceptor_.listen(8, ec);
  if (ec) throw std::runtime_error("--api: cannot listen on '" + path + "': " + ec.message());
  accept();
}

ApiServer::~ApiServer() { ::unlink(path_.c_str()); }

void ApiServer::add_command(const std::string& name, Handler handler) { handlers_[name] = std::move(handler); }

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
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  json msg = {{"event", event},
              {"data", std::move(data)},
              {"timestamp", std::chrono::duration_cast<std::chrono::microseconds>(now).count()}};
  asio::post(io_, [this, line = msg.dump() + "\n"] {
    for (const auto& s : sessions_) s->send(line);
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

json ApiServer::dispatch(const std::string& line) {
  auto error = [](const std::string& cls, const std::string& desc) {
    return json{{"error", {{"class", cls}, {"desc", desc}}}};
  };
  json request = json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object()) return error("GenericError", "request is not a JSON object");
  if (!request.contains("execute") || !request["execute"].is_string())
    return error("GenericError", "request has no \"execute\" string");
  const std::string name = request["execute"];
  auto it = handlers_.find(name);
  if (it == handlers_.end()) return error("CommandNotFound", "unknown command '" + name + "'");
  json args = request.value("arguments", json::object());
  if (!args.is_object()) return error("GenericError", "\"arguments\" must be an object");
  try {
    return json{{"return", it->second(args)}};
  } catch (const ApiError& e) {
    return error(e.error_class(), e.what());
  } catch (const std::exception& e) {
    return error("GenericError", e.what());
  }
}

}  // namespace wren
