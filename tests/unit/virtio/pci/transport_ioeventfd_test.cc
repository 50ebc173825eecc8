#include "virtio/pci/ioeventfd.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "hypervisor/event_loop.h"

namespace wren {
namespace {

struct IoeventfdCall {
  int fd;
  uint64_t addr;
  uint32_t len;
  bool pio;
  bool deassign;
};

class FakeIoeventfdApi : public IoeventfdApi {
 public:
  void ioeventfd(int fd, uint64_t addr, uint32_t len, bool pio, bool deassign) override {
    std::lock_guard lock(mutex);
    if (fail) throw std::runtime_error("no ioeventfd");
    calls.push_back({fd, addr, len, pio, deassign});
  }
  std::mutex mutex;
  std::vector<IoeventfdCall> calls;
  bool fail = false;
};

void signal_fd(int fd) {
  const uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
}

TEST(IoeventfdNotifyWiring, KickArrivesOnTheEventLoop) {
  FakeIoeventfdApi api;
  EventLoop loop;
  loop.start();
  IoeventfdNotifyWiring wiring(api, loop);
  std::promise<bool> kicked;
  auto done = kicked.get_future();
  ASSERT_TRUE(wiring.attach(0xc0003004, 2, false, [&] { kicked.set_value(loop.in_loop_thread()); }));
  ASSERT_EQ(api.calls.size(), 1u);
  EXPECT_EQ(api.calls[0].addr, 0xc0003004u);
  EXPECT_EQ(api.calls[0].len, 2u);
  EXPECT_FALSE(api.calls[0].deassign);
  signal_fd(api.calls[0].fd);  // what KVM does on the guest's write
  ASSERT_EQ(done.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_TRUE(done.get());

  wiring.detach(0xc0003004, 2, false);
  ASSERT_EQ(api.calls.size(), 2u);
  EXPECT_TRUE(api.calls[1].deassign);
  EXPECT_EQ(api.calls[1].fd, api.calls[0].fd);
  loop.stop();
}

TEST(IoeventfdNotifyWiring, RepeatedKicksAllDelivered) {
  FakeIoeventfdApi api;
  EventLoop loop;
  loop.start();
  IoeventfdNotifyWiring wiring(api, loop);
  std::atomic<int> kicks{0};
  ASSERT_TRUE(wiring.attach(0x1000, 2, false, [&] { ++kicks; }));
  const int fd = api.calls[0].fd;
  for (int i = 0; i < 3; ++i) {
    signal_fd(fd);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (kicks.load() <= i && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(kicks.load(), 3);
  loop.stop();
}

TEST(IoeventfdNotifyWiring, DecodedKickIsPostedAndFailureFallsBack) {
  FakeIoeventfdApi api;
  EventLoop loop;
  loop.start();
  IoeventfdNotifyWiring wiring(api, loop);
  std::promise<bool> ran;
  auto done = ran.get_future();
  wiring.kick([&] { ran.set_value(loop.in_loop_thread()); });
  ASSERT_EQ(done.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_TRUE(done.get());
  api.fail = true;
  EXPECT_FALSE(wiring.attach(0x2000, 2, false, [] {}));  // the transport then decodes kicks itself
  loop.stop();
}

}  // namespace
}  // namespace wren
