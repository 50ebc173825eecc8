#include "hypervisor/event_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <stdexcept>

namespace wren {
namespace {

TEST(EventLoop, AThrowingHandlerIsLoggedAndTheLoopGoesOn) {
  EventLoop loop;
  loop.start();
  std::promise<void> later;
  boost::asio::post(loop.context(), [] { throw std::runtime_error("handler failure"); });
  boost::asio::post(loop.context(), [&] { later.set_value(); });
  // Before: the exception left io_context::run on the loop thread (std::terminate).
  EXPECT_EQ(later.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  loop.stop();
}

}  // namespace
}  // namespace wren
