#pragma once
// A Channel decorator that caps the send rate (`wren migrate --max-bandwidth`):
// operators keep a migration from starving the guests' own traffic.
#include <algorithm>
#include <chrono>
#include <thread>

#include "migrate/live/channel.h"

namespace wren {

class RateLimitedChannel : public migrate::live::Channel {
 public:
  // `bytes_per_second` == 0 means no cap.
  RateLimitedChannel(migrate::live::Channel& inner, uint64_t bytes_per_second)
      : inner_(inner), rate_(bytes_per_second), start_(std::chrono::steady_clock::now()) {}

  void send(std::span<const uint8_t> data) override {
    constexpr size_t kSlice = 64 * 1024;  // sleep granularity: small bursts, smooth rate
    while (!data.empty()) {
      const auto n = std::min(data.size(), kSlice);
      pace(n);
      inner_.send(data.first(n));
      data = data.subspan(n);
    }
  }
  size_t receive_some(std::span<uint8_t> out) override { return inner_.receive_some(out); }
  bool readable() override { return inner_.readable(); }
  void close() override { inner_.close(); }
  void set_io_timeout(std::chrono::milliseconds timeout) override { inner_.set_io_timeout(timeout); }

 private:
  // Sleeps until sending `n` more bytes keeps the average at or under the cap.
  void pace(size_t n) {
    if (rate_ == 0) return;
    sent_ += n;
    const auto due = start_ + std::chrono::microseconds(sent_ * 1'000'000 / rate_);
    std::this_thread::sleep_until(due);
  }

  migrate::live::Channel& inner_;
  uint64_t rate_;
  uint64_t sent_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace wren
