// `wren migrate` against a scripted control socket: the source VMM exits as
// soon as it has handed the guest over, so the client must find the final
// MIGRATION event among what it had not read yet.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "vmm/cli/migrate_client.h"

namespace wren {
namespace {

class ScriptedSource {
 public:
  // Greets as QMP does and accepts qmp_capabilities (checking that it was
  // asked for), then answers the next request with `reply_and_events`,
  // written in `chunk`-byte pieces, and closes without reading anything more.
  ScriptedSource(std::string reply_and_events, size_t chunk) {
    path_ = "/tmp/wren-migrate-client-test-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path_.c_str());
    listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 1) != 0)
      throw std::runtime_error("cannot listen on " + path_);
    server_ = std::thread([this, script = std::move(reply_and_events), chunk] {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      const std::string greeting = R"({"QMP":{"version":{"qemu":{"major":0,"minor":16,"micro":0},"package":""},)"
                                   R"("capabilities":[]}})"
                                   "\r\n";
      (void)!::write(fd, greeting.data(), greeting.size());
      const std::string first = read_line(fd);
      if (first.find("\"qmp_capabilities\"") == std::string::npos) {
        const std::string refusal =
            R"({"error":{"class":"CommandNotFound","desc":"Expecting capabilities negotiation"}})"
            "\r\n";
        (void)!::write(fd, refusal.data(), refusal.size());
        ::close(fd);
        return;
      }
      const std::string ok = "{\"return\":{}}\r\n";
      (void)!::write(fd, ok.data(), ok.size());
      read_line(fd);
      for (size_t at = 0; at < script.size(); at += chunk) {
        if (at > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        (void)!::write(fd, script.data() + at, std::min(chunk, script.size() - at));
      }
      ::close(fd);
    });
  }
  ~ScriptedSource() {
    server_.join();
    ::close(listener_);
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  static std::string read_line(int fd) {
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
    return line;
  }

  std::string path_;
  int listener_ = -1;
  std::thread server_;
};

// QEMU's MIGRATION event, with Wren's progress fields under "wren".
std::string migration_event(const std::string& phase, const std::string& status, size_t pad = 0) {
  return R"({"event":"MIGRATION","data":{"status":")" + status + R"(","wren":{"phase":")" + phase + R"(","status":")" +
         status + R"(","downtime_ms":7,"pad":")" + std::string(pad, 'x') +
         R"("}},"timestamp":{"seconds":1,"microseconds":2}})" + "\r\n";
}

TEST(MigrateClient, SourceThatHandsOverAndExitsIsASuccess) {
  // Padding of every size moves the line boundaries across the client's
  // reads; whole writes make the source close before the client asks again.
  for (size_t pad = 0; pad < 600; pad += 23) {
    const std::string script = "{\"return\":{}}\n" + migration_event("pre-copy", "active", pad) +
                               migration_event("committing", "active", pad) + migration_event("done", "completed", pad);
    for (size_t chunk : {size_t{64}, script.size()}) {
      ScriptedSource source(script, chunk);
      MigrateCommand cmd;
      cmd.api_path = source.path();
      cmd.uri = "tcp:127.0.0.1:1";
      EXPECT_EQ(run_migrate_command(cmd), 0) << "pad " << pad << ", chunk " << chunk;
    }
  }
}

TEST(MigrateClient, SourceThatExitsWithoutCompletingIsAFailure) {
  ScriptedSource source("{\"return\":{}}\n" + migration_event("pre-copy", "active"), 50);
  MigrateCommand cmd;
  cmd.api_path = source.path();
  cmd.uri = "tcp:127.0.0.1:1";
  EXPECT_EQ(run_migrate_command(cmd), 2);
}

}  // namespace
}  // namespace wren
