#pragma once
// Hpet::Scheduler on the event loop: one Boost.Asio steady_timer per HPET
// timer. arm() and cancel() may be called from any thread (they post to the
// loop); the expiry handler runs on the loop thread. Deadlines are
// std::chrono::steady_clock nanoseconds, the HPET's default clock.
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "devices/platform/hpet.h"

namespace wren {

class HpetLoopScheduler final : public Hpet::Scheduler {
 public:
  using Expired = std::function<void(unsigned timer)>;

  explicit HpetLoopScheduler(boost::asio::io_context& io);
  ~HpetLoopScheduler() override;

  // Where expiries go (the HPET, once it exists). Set before any arm().
  void set_expired(Expired expired) { expired_ = std::move(expired); }

  void arm(unsigned timer, uint64_t deadline_ns) override;
  void cancel(unsigned timer) override;

 private:
  boost::asio::io_context& io_;
  Expired expired_;
  std::array<std::unique_ptr<boost::asio::steady_timer>, Hpet::kTimers> timers_;
  // Dropped handlers of a destroyed scheduler must not touch it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace wren
