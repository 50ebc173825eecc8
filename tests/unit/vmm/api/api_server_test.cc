#include "vmm/api/api_server.h"

#include <gtest/gtest.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <istream>
#include <string>
#include "unit/temp_path.h"

namespace wren {
namespace {

class ApiServerTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  ApiServer server{io, process_temp_path("api_server_test.sock")};
};

TEST_F(ApiServerTest, DispatchesCommands) {
  server.add_command("echo", [](const nlohmann::json& a) { return a; });
  auto r = server.dispatch(R"({"execute":"echo","arguments":{"x":1}})");
  EXPECT_EQ(r["return"]["x"], 1);
}

TEST_F(ApiServerTest, RejectsMalformedRequests) {
  EXPECT_EQ(server.dispatch("not json")["error"]["class"], "GenericError");
  EXPECT_EQ(server.dispatch("[1]")["error"]["class"], "GenericError");
  EXPECT_EQ(server.dispatch(R"({"execute":5})")["error"]["class"], "GenericError");
  EXPECT_EQ(server.dispatch(R"({"execute":"nope"})")["error"]["class"], "CommandNotFound");
}

TEST_F(ApiServerTest, HandlerErrorsBecomeReplies) {
  server.add_command("fail", [](const nlohmann::json&) -> nlohmann::json { throw ApiError("DeviceNotFound", "no"); });
  auto r = server.dispatch(R"({"execute":"fail"})");
  EXPECT_EQ(r["error"]["class"], "DeviceNotFound");
  EXPECT_EQ(r["error"]["desc"], "no");
}

TEST_F(ApiServerTest, FlushWaitsUntilEveryEventReachedTheClient) {
  boost::asio::local::stream_protocol::socket client(io);
  client.connect(boost::asio::local::stream_protocol::endpoint(process_temp_path("api_server_test.sock")));
  while (io.poll() > 0) {
  }  // the accept
  for (int i = 0; i < 50; ++i) server.emit("MIGRATION", {{"n", i}, {"pad", std::string(1000, 'x')}});
  bool flushed = false;
  boost::asio::post(io, [&] { server.after_output_flushed([&] { flushed = true; }, std::chrono::seconds(5)); });
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
