#include "vmm/api_server.h"

#include <gtest/gtest.h>

namespace wren {
namespace {

class ApiServerTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  ApiServer server{io, ::testing::TempDir() + "/api_server_test.sock"};
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

}  // namespace
}  // namespace wren
