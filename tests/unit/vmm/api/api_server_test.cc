// The control socket as a QMP server: greeting, capabilities negotiation,
// ids, QEMU's error classes, event timestamps and stream framing.
#include "vmm/api/api_server.h"

#include <gtest/gtest.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <istream>
#include <set>
#include <string>
#include <vector>

#include "unit/temp_path.h"
#include "vmm/api/wren_version.h"

namespace wren {
namespace {

using json = nlohmann::json;

// qapi/error.json, enum ErrorClass.
const std::set<std::string> kQemuErrorClasses = {"GenericError", "CommandNotFound", "DeviceNotActive", "DeviceNotFound",
                                                 "KVMMissingCap"};

std::set<std::string> keys(const json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) out.insert(k);
  return out;
}

class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest() {
    server.add_command("echo", [](const json& a) { return a; });
  }

  boost::asio::io_context io;
  ApiServer server{io, process_temp_path("api_server_test.sock")};
};

// A real client on the socket, driving the server's loop while it waits.
class Client {
 public:
  explicit Client(boost::asio::io_context& io) : io_(io), sock_(io) {
    sock_.connect(boost::asio::local::stream_protocol::endpoint(process_temp_path("api_server_test.sock")));
  }
  void send(const std::string& bytes) { boost::asio::write(sock_, boost::asio::buffer(bytes)); }
  json next() {
    for (int i = 0; i < 500 && !has_line(); ++i) {
      io_.run_one_for(std::chrono::milliseconds(10));
      pull();
    }
    if (!has_line()) return json();
    std::istream in(&buffer_);
    std::string line;
    std::getline(in, line);
    return json::parse(line, nullptr, false);
  }
  // Nothing more arrives within a short while.
  bool quiet() {
    for (int i = 0; i < 20; ++i) {
      io_.run_one_for(std::chrono::milliseconds(5));
      pull();
    }
    return buffer_.size() == 0;
  }
  void negotiate() {
    EXPECT_TRUE(next().contains("QMP"));
    send(R"({"execute":"qmp_capabilities"})");
    EXPECT_EQ(next(), json({{"return", json::object()}}));
  }

 private:
  bool has_line() const {
    auto data = buffer_.data();
    std::string_view view(static_cast<const char*>(data.data()), data.size());
    return view.find('\n') != std::string_view::npos;
  }
  void pull() {
    boost::system::error_code ec;
    while (sock_.available(ec) > 0) {
      auto bufs = buffer_.prepare(sock_.available(ec));
      buffer_.commit(sock_.read_some(bufs, ec));
    }
  }

  boost::asio::io_context& io_;
  boost::asio::local::stream_protocol::socket sock_;
  boost::asio::streambuf buffer_;
};

TEST_F(ApiServerTest, GreetsWithQemusShape) {
  Client c(io);
  const json greeting = c.next();
  ASSERT_TRUE(greeting.is_object()) << greeting;
  EXPECT_EQ(keys(greeting), std::set<std::string>{"QMP"});
  EXPECT_EQ(keys(greeting["QMP"]), (std::set<std::string>{"version", "capabilities"}));
  EXPECT_EQ(greeting["QMP"]["capabilities"], json::array());
  // qapi/control.json VersionInfo: {qemu: VersionTriple, package}.
  const auto& v = greeting["QMP"]["version"];
  EXPECT_EQ(keys(v), (std::set<std::string>{"qemu", "package"}));
  EXPECT_EQ(keys(v["qemu"]), (std::set<std::string>{"major", "minor", "micro"}));
  EXPECT_EQ(v["qemu"]["major"], kWrenVersion.major);
  EXPECT_EQ(v["qemu"]["minor"], kWrenVersion.minor);
  EXPECT_EQ(v["package"], "wren " + wren_version_string());
}

TEST_F(ApiServerTest, OnlyQmpCapabilitiesUntilNegotiated) {
  QmpMode mode = QmpMode::kNegotiating;
  auto r = server.dispatch(R"({"execute":"echo","arguments":{"x":1}})", mode);
  EXPECT_EQ((*r)["error"]["class"], "CommandNotFound");
  EXPECT_EQ((*r)["error"]["desc"], "Expecting capabilities negotiation with 'qmp_capabilities'");
  EXPECT_EQ(mode, QmpMode::kNegotiating);
  // query-commands too: QEMU has only qmp_capabilities in this mode.
  EXPECT_EQ((*server.dispatch(R"({"execute":"query-commands"})", mode))["error"]["class"], "CommandNotFound");

  EXPECT_EQ(*server.dispatch(R"({"execute":"qmp_capabilities","arguments":{}})", mode),
            json({{"return", json::object()}}));
  EXPECT_EQ(mode, QmpMode::kCommands);
  EXPECT_EQ((*server.dispatch(R"({"execute":"echo","arguments":{"x":1}})", mode))["return"]["x"], 1);
  // A second negotiation is refused as QEMU refuses it.
  r = server.dispatch(R"({"execute":"qmp_capabilities"})", mode);
  EXPECT_EQ((*r)["error"]["class"], "CommandNotFound");
  EXPECT_EQ(mode, QmpMode::kCommands);
}

TEST_F(ApiServerTest, NoCapabilityCanBeEnabled) {
  QmpMode mode = QmpMode::kNegotiating;
  auto r = server.dispatch(R"({"execute":"qmp_capabilities","arguments":{"enable":["oob"]}})", mode);
  EXPECT_EQ((*r)["error"]["class"], "GenericError");
  EXPECT_EQ(mode, QmpMode::kNegotiating);
  r = server.dispatch(R"({"execute":"qmp_capabilities","arguments":{"enable":[]}})", mode);
  EXPECT_TRUE(r->contains("return"));
  EXPECT_EQ(mode, QmpMode::kCommands);
}

TEST_F(ApiServerTest, EchoesTheIdOfEveryKindOfReply) {
  server.add_command("fail", [](const json&) -> json { throw ApiError("DeviceNotFound", "no"); });
  const std::vector<json> ids = {json(7), json("abc"), json({{"n", 1}}), json::array({1, "x"}), json(nullptr)};
  const std::vector<std::string> requests = {
      R"({"execute":"echo","arguments":{}})", R"({"execute":"nope"})",           R"({"execute":"fail"})",
      R"({"execute":"echo","arguments":5})",  R"({"execute":"echo","bogus":1})", R"({"arguments":{}})"};
  for (const json& id : ids) {
    for (const std::string& request : requests) {
      json req = json::parse(request);
      req["id"] = id;
      const json reply = server.dispatch(req.dump());
      ASSERT_TRUE(reply.contains("id")) << req << " -> " << reply;
      EXPECT_EQ(reply["id"], id) << req;
      EXPECT_EQ(reply.contains("return") + reply.contains("error"), 1) << reply;
    }
  }
  // Without an id, the reply has none.
  EXPECT_FALSE(server.dispatch(R"({"execute":"echo"})").contains("id"));
  // In negotiation mode too.
  QmpMode mode = QmpMode::kNegotiating;
  EXPECT_EQ((*server.dispatch(R"({"execute":"echo","id":"n1"})", mode))["id"], "n1");
  EXPECT_EQ((*server.dispatch(R"({"execute":"qmp_capabilities","id":"n2"})", mode))["id"], "n2");
}

TEST_F(ApiServerTest, RejectsMalformedRequestsAsQemuDoes) {
  auto desc = [&](const std::string& text) {
    const json r = server.dispatch(text);
    EXPECT_EQ(r["error"]["class"], "GenericError") << text;
    return r["error"]["desc"].get<std::string>();
  };
  EXPECT_EQ(desc("[1]"), "QMP input must be a JSON object");
  EXPECT_EQ(desc("5"), "QMP input must be a JSON object");
  EXPECT_EQ(desc(R"({"execute":5})"), "QMP input member 'execute' must be a string");
  EXPECT_EQ(desc(R"({"execute":"echo","arguments":[]})"), "QMP input member 'arguments' must be an object");
  EXPECT_EQ(desc(R"({"execute":"echo","extra":{}})"), "QMP input member 'extra' is unexpected");
  EXPECT_EQ(desc(R"({"id":1})"), "QMP input lacks member 'execute'");
  EXPECT_NE(desc("{not json}").find("JSON parse error"), std::string::npos);
  const json r = server.dispatch(R"({"execute":"nope"})");
  EXPECT_EQ(r["error"]["class"], "CommandNotFound");
  EXPECT_EQ(r["error"]["desc"], "The command nope has not been found");
  // Whitespace between texts is not a request.
  QmpMode mode = QmpMode::kCommands;
  EXPECT_FALSE(server.dispatch(" \r\n", mode).has_value());
}

TEST_F(ApiServerTest, ErrorClassesAreQemus) {
  server.add_command("qemu_class", [](const json&) -> json { throw ApiError("DeviceNotFound", "no such NIC"); });
  server.add_command("wren_class", [](const json&) -> json { throw ApiError("MigrationActive", "busy"); });
  server.add_command("throws", [](const json&) -> json { throw std::runtime_error("broken"); });
  auto r = server.dispatch(R"({"execute":"qemu_class"})");
  EXPECT_EQ(r, json({{"error", {{"class", "DeviceNotFound"}, {"desc", "no such NIC"}}}}));
  r = server.dispatch(R"({"execute":"wren_class"})");
  EXPECT_EQ(r["error"]["class"], "GenericError");
  EXPECT_EQ(r["error"]["desc"], "busy");
  EXPECT_EQ(r["error"]["wren-class"], "MigrationActive");
  r = server.dispatch(R"({"execute":"throws"})");
  EXPECT_EQ(r["error"]["class"], "GenericError");
  EXPECT_EQ(r["error"]["desc"], "broken");
  for (const auto& cls : {"GenericError", "CommandNotFound", "DeviceNotActive", "DeviceNotFound", "KVMMissingCap",
                          "InvalidArguments", "SnapshotFailed", "MigrationFailed", ""})
    EXPECT_EQ(kQemuErrorClasses.count(qmp_error(cls, "d")["error"]["class"].get<std::string>()), 1u) << cls;
}

TEST_F(ApiServerTest, DeclaredParametersAreEnforcedAsQemuDoes) {
  server.add_command(
      "takes_x", [](const json& a) { return a; }, std::set<std::string>{"x"});
  server.add_command(
      "takes_none", [](const json&) { return json::object(); }, std::set<std::string>{});
  EXPECT_EQ(server.dispatch(R"({"execute":"takes_x","arguments":{"x":1}})")["return"]["x"], 1);
  EXPECT_EQ(server.dispatch(R"({"execute":"takes_x"})")["return"], json::object());
  auto r = server.dispatch(R"({"execute":"takes_x","arguments":{"x":1,"y":2},"id":9})");
  EXPECT_EQ(r, json({{"error", {{"class", "GenericError"}, {"desc", "Parameter 'y' is unexpected"}}}, {"id", 9}}));
  EXPECT_EQ(server.dispatch(R"({"execute":"takes_none","arguments":{"x":1}})")["error"]["desc"],
            "Parameter 'x' is unexpected");
  EXPECT_TRUE(server.dispatch(R"({"execute":"takes_none","arguments":{}})").contains("return"));
  // Undeclared: the handler sees everything.
  EXPECT_EQ(server.dispatch(R"({"execute":"echo","arguments":{"z":3}})")["return"]["z"], 3);
}

TEST_F(ApiServerTest, QueryCommandsListsEveryCommand) {
  server.add_command("zzz", [](const json&) { return json::object(); });
  const json r = server.dispatch(R"({"execute":"query-commands"})");
  std::set<std::string> names;
  for (const auto& c : r["return"]) {
    EXPECT_EQ(keys(c), std::set<std::string>{"name"});  // qapi/control.json CommandInfo
    names.insert(c["name"].get<std::string>());
  }
  EXPECT_EQ(names, (std::set<std::string>{"qmp_capabilities", "query-commands", "echo", "zzz"}));
}

TEST_F(ApiServerTest, RequestsAreAJsonStreamNotLines) {
  Client c(io);
  c.negotiate();
  c.send(R"({"execute":"echo","arguments":{"s":"a}b{"},"id":1})");  // no newline, brackets in a string
  EXPECT_EQ(c.next(), json({{"return", {{"s", "a}b{"}}}, {"id", 1}}));
  c.send(R"({"execute":"echo","id":2}{"execute":"echo","id":3})");  // two in one write
  EXPECT_EQ(c.next()["id"], 2);
  EXPECT_EQ(c.next()["id"], 3);
  c.send(R"({"execute":"ec)");  // one split across writes
  EXPECT_TRUE(c.quiet());
  c.send(R"(ho","id":4})");
  EXPECT_EQ(c.next()["id"], 4);
}

TEST_F(ApiServerTest, EventsCarryQemuTimestampsAndSkipUnnegotiatedClients) {
  Client early(io);
  EXPECT_TRUE(early.next().contains("QMP"));
  Client c(io);
  c.negotiate();
  const auto before = std::chrono::system_clock::now();
  server.emit("STOP");
  server.emit("NIC_RX_FILTER_CHANGED", {{"name", "net0"}});
  json e = c.next();
  EXPECT_EQ(keys(e), (std::set<std::string>{"event", "timestamp"}));  // no data: no member
  EXPECT_EQ(e["event"], "STOP");
  EXPECT_EQ(keys(e["timestamp"]), (std::set<std::string>{"seconds", "microseconds"}));
  const int64_t seconds = e["timestamp"]["seconds"], us = e["timestamp"]["microseconds"];
  EXPECT_GE(us, 0);
  EXPECT_LT(us, 1'000'000);
  const int64_t then = std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count();
  EXPECT_GE(seconds, then);
  EXPECT_LE(seconds, then + 5);
  e = c.next();
  EXPECT_EQ(e["event"], "NIC_RX_FILTER_CHANGED");
  EXPECT_EQ(e["data"]["name"], "net0");
  EXPECT_TRUE(early.quiet());  // still negotiating: no events
}

TEST(QmpProtocol, TimestampSplitsSecondsAndMicroseconds) {
  const std::chrono::system_clock::time_point t(std::chrono::microseconds(1'700'000'000'123'456));
  EXPECT_EQ(qmp_timestamp(t), json({{"seconds", 1'700'000'000}, {"microseconds", 123'456}}));
}

TEST_F(ApiServerTest, FlushWaitsUntilEveryEventReachedTheClient) {
  boost::asio::local::stream_protocol::socket client(io);
  client.connect(boost::asio::local::stream_protocol::endpoint(process_temp_path("api_server_test.sock")));
  boost::asio::write(client, boost::asio::buffer(std::string(R"({"execute":"qmp_capabilities"})")));
  boost::asio::streambuf in;
  int received = 0;
  const auto read_ready_lines = [&] {
    while (in.size() > 0 || client.available() > 0) {
      boost::asio::read_until(client, in, '\n');
      std::istream lines(&in);
      std::string line;
      std::getline(lines, line);
      ++received;
    }
  };
  while (received < 2) {  // the greeting and the negotiation's reply
    io.run_one_for(std::chrono::milliseconds(10));
    read_ready_lines();
  }
  received = 0;
  for (int i = 0; i < 50; ++i) server.emit("MIGRATION", {{"n", i}, {"pad", std::string(1000, 'x')}});
  bool flushed = false;
  boost::asio::post(io, [&] { server.after_output_flushed([&] { flushed = true; }, std::chrono::seconds(5)); });
  // The client reads while the server writes, until the flush reports; by
  // then every line was written to the socket.
  while (!flushed) {
    io.run_one_for(std::chrono::milliseconds(10));
    read_ready_lines();
  }
  read_ready_lines();
  EXPECT_EQ(received, 50);
}

TEST_F(ApiServerTest, FlushWithoutClientsIsImmediate) {
  bool flushed = false;
  server.after_output_flushed([&] { flushed = true; }, std::chrono::seconds(5));
  EXPECT_TRUE(flushed);
}

}  // namespace
}  // namespace wren
