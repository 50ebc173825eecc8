#include "vmm/cli/migrate_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

namespace wren {

namespace {

using boost::asio::local::stream_protocol;

class ApiConnection {
 public:
  // Connects, reads QMP's greeting and leaves capabilities negotiation.
  explicit ApiConnection(const std::string& path) : socket_(io_) {
    socket_.connect(stream_protocol::endpoint(path));
    boost::asio::read_until(socket_, buffer_, '\n');
    auto greeting = nlohmann::json::parse(next_line(), nullptr, false);
    if (!greeting.is_object() || !greeting.contains("QMP"))
      throw std::runtime_error("the control socket did not greet as QMP does");
    auto negotiated = request("qmp_capabilities");
    if (!negotiated.contains("return")) throw std::runtime_error("qmp_capabilities refused: " + negotiated.dump());
  }

  // Sends one request and returns its reply, printing any event seen on the way.
  nlohmann::json request(const std::string& command, nlohmann::json arguments = nlohmann::json::object()) {
    const std::string line = nlohmann::json{{"execute", command}, {"arguments", std::move(arguments)}}.dump() + "\n";
    boost::asio::write(socket_, boost::asio::buffer(line));
    for (;;) {
      boost::asio::read_until(socket_, buffer_, '\n');
      auto msg = nlohmann::json::parse(next_line(), nullptr, false);
      if (msg.is_discarded()) throw std::runtime_error("the control socket sent a line that is not JSON");
      if (!msg.contains("event")) return msg;
      note_event(msg);
    }
  }

  // Reads whatever the peer sent before it closed, keeping its events. Only
  // whole lines: a read may end in the middle of one.
  void drain() {
    for (;;) {
      boost::system::error_code ec;
      boost::asio::read_until(socket_, buffer_, '\n', ec);
      if (ec) return;
      auto msg = nlohmann::json::parse(next_line(), nullptr, false);
      if (msg.is_object()) note_event(msg);
    }
  }

  // The newest MIGRATION event's data: a source that handed its guest over
  // sends the final one ("completed") just before it exits.
  nlohmann::json last_event;

 private:
  // The first line in buffer_ (read_until has made sure it is complete).
  std::string next_line() {
    std::istream in(&buffer_);
    std::string line;
    std::getline(in, line);
    return line;
  }

  void note_event(const nlohmann::json& msg) {
    if (msg.value("event", std::string()) == "MIGRATION" && msg.contains("data")) last_event = msg["data"];
  }

  boost::asio::io_context io_;
  stream_protocol::socket socket_;
  boost::asio::streambuf buffer_;
};

// A field of query-migrate, or 0 when absent or null (not yet known).
template <typename T>
T number(const nlohmann::json& s, const char* key) {
  return s.contains(key) && s[key].is_number() ? s[key].get<T>() : T{};
}

// Wren's own progress fields ride along under "wren" in query-migrate and
// in the MIGRATION event (QEMU's MigrationInfo has no phase or round).
nlohmann::json wren_fields(const nlohmann::json& s) {
  return s.contains("wren") && s["wren"].is_object() ? s["wren"] : nlohmann::json::object();
}

std::string progress_line(const nlohmann::json& s) {
  char line[256];
  std::snprintf(line, sizeof line, "%-9s round %u  %8.1f MB/s  dirty %7llu pages  est. downtime %5llu ms",
                s.value("phase", std::string("?")).c_str(), number<unsigned>(s, "round"), number<double>(s, "mbps"),
                number<unsigned long long>(s, "dirty_pages"), number<unsigned long long>(s, "estimated_downtime_ms"));
  return line;
}

}  // namespace

int run_migrate_command(const MigrateCommand& cmd) {
  std::string last_phase = "none";
  std::optional<ApiConnection> api;
  try {
    api.emplace(cmd.api_path);
    auto started = api->request("migrate", {{"uri", cmd.uri},
                                            {"downtime_ms", cmd.downtime_ms},
                                            {"timeout_s", cmd.timeout_s},
                                            {"max_bandwidth_mbps", cmd.max_bandwidth_mbps}});
    if (started.contains("error")) {
      std::fprintf(stderr, "wren migrate: %s\n", started["error"].value("desc", std::string("refused")).c_str());
      return 1;
    }
    std::string shown;
    for (;;) {
      auto reply = api->request("query-migrate");
      if (!reply.contains("return")) throw std::runtime_error(reply.dump());
      const auto& info = reply["return"];  // QEMU's MigrationInfo
      const auto s = wren_fields(info);
      const std::string status = info.value("status", std::string("none"));
      last_phase = s.value("phase", std::string("none"));
      if (status == "completed") {
        const auto ram = info.value("ram", nlohmann::json::object());
        std::printf("migration completed: %.1f MB in %llu ms, downtime %llu ms, %u rounds\n",
                    number<double>(ram, "transferred") / 1e6, number<unsigned long long>(info, "total-time"),
                    number<unsigned long long>(info, "downtime"), number<unsigned>(ram, "dirty-sync-count"));
        return 0;
      }
      if (status == "failed" || status == "cancelled") {
        std::fprintf(stderr, "wren migrate: %s: %s\n", status.c_str(),
                     info.value("error-desc", std::string("no reason given")).c_str());
        return 1;
      }
      if (const auto line = progress_line(s); line != shown) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        shown = line;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  } catch (const std::exception& e) {
    // A source that handed its guest over exits, closing the socket.
    if (api) api->drain();
    if (api && api->last_event.value("status", std::string()) == "completed") {
      std::printf("migration completed: downtime %llu ms (the source handed over and exited)\n",
                  number<unsigned long long>(wren_fields(api->last_event), "downtime_ms"));
      return 0;
    }
    if (last_phase == "committing" || last_phase == "done") {
      std::printf("migration completed (the source exited after the commit)\n");
      return 0;
    }
    std::fprintf(stderr, "wren migrate: control socket '%s': %s\n", cmd.api_path.c_str(), e.what());
    return 2;
  }
}

}  // namespace wren
