#include "devices/platform/hpet_loop_scheduler.h"

#include <boost/asio/post.hpp>
#include <chrono>

namespace wren {

HpetLoopScheduler::HpetLoopScheduler(boost::asio::io_context& io) : io_(io) {
  for (auto& t : timers_) t = std::make_unique<boost::asio::steady_timer>(io_);
}

HpetLoopScheduler::~HpetLoopScheduler() { *alive_ = false; }

void HpetLoopScheduler::arm(unsigned timer, uint64_t deadline_ns) {
  if (timer >= timers_.size()) return;
  // steady_timer is not thread-safe: every change happens on the loop, in order.
  boost::asio::post(io_, [this, alive = alive_, timer, deadline_ns] {
    if (!*alive) return;
    auto& t = *timers_[timer];
    t.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)));
    t.async_wait([this, alive, timer](const boost::system::error_code& ec) {
      if (ec || !*alive) return;  // re-armed or cancelled meanwhile
      if (expired_) expired_(timer);
    });
  });
}

void HpetLoopScheduler::cancel(unsigned timer) {
  if (timer >= timers_.size()) return;
  boost::asio::post(io_, [this, alive = alive_, timer] {
    if (*alive) timers_[timer]->cancel();
  });
}

}  // namespace wren
