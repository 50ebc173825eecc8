#include "migrate/live/memory_channel.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace wren::migrate::live {

namespace {

using Clock = std::chrono::steady_clock;

// Throttled writes go in small steps so a reader sees a steady flow.
constexpr size_t kThrottleStep = 64 << 10;

struct Direction {
  LinkFaults faults;
  std::deque<uint8_t> data;
  uint64_t lost = 0;     // blackholed bytes still taking room
  uint64_t written = 0;  // offset of the next byte
  bool writer_closed = false;
  bool reader_closed = false;
  Clock::time_point throttle_until{};

  // The reader gets no more bytes after what is queued.
  bool ended() const { return writer_closed || (faults.end_after && written >= *faults.end_after); }
};

struct Link {
  std::mutex mutex;
  std::condition_variable changed;
  size_t capacity = 0;
  bool reset = false;
  Direction directions[2];
};

class MemoryChannel final : public Channel {
 public:
  MemoryChannel(std::shared_ptr<Link> link, int side, std::chrono::milliseconds timeout)
      : link_(std::move(link)), out_(link_->directions[side]), in_(link_->directions[1 - side]), timeout_(timeout) {}
  ~MemoryChannel() override { close(); }

  void send(std::span<const uint8_t> data) override {
    std::unique_lock lock(link_->mutex);
    size_t done = 0;
    while (done < data.size()) {
      check_usable_for_sending();
      const LinkFaults& f = out_.faults;
      if (f.reset_after && out_.written >= *f.reset_after) {
        link_->reset = true;
        link_->changed.notify_all();
        throw ChannelError("connection reset");
      }
      if (f.end_after && out_.written >= *f.end_after) throw ChannelError("sending side shut down");
      const uint64_t used = out_.data.size() + out_.lost;
      if (used >= link_->capacity) {
        wait(
            lock, [&] { return out_.data.size() + out_.lost < link_->capacity || out_.reader_closed || stopped(); },
            "sending");
        continue;
      }
      uint64_t n = std::min<uint64_t>(data.size() - done, link_->capacity - used);
      if (f.reset_after) n = std::min(n, *f.reset_after - out_.written);
      if (f.end_after) n = std::min(n, *f.end_after - out_.written);
      const bool lost = f.blackhole_after && out_.written >= *f.blackhole_after;
      if (f.blackhole_after && !lost) n = std::min(n, *f.blackhole_after - out_.written);
      if (f.bytes_per_second) n = std::min<uint64_t>(n, kThrottleStep);
      if (lost) {
        out_.lost += n;
      } else {
        const auto chunk = data.subspan(done, n);
        out_.data.insert(out_.data.end(), chunk.begin(), chunk.end());
        if (f.corrupt_at && *f.corrupt_at >= out_.written && *f.corrupt_at < out_.written + n)
          out_.data[out_.data.size() - n + (*f.corrupt_at - out_.written)] ^= 0xff;
      }
      out_.written += n;
      done += n;
      link_->changed.notify_all();
      if (f.bytes_per_second) {
        const auto cost = std::chrono::nanoseconds(n * 1'000'000'000ull / f.bytes_per_second);
        out_.throttle_until = std::max(Clock::now(), out_.throttle_until) + cost;
        const auto until = out_.throttle_until;
        lock.unlock();
        std::this_thread::sleep_until(until);
        lock.lock();
      }
    }
  }

  size_t receive_some(std::span<uint8_t> out) override {
    std::unique_lock lock(link_->mutex);
    for (;;) {
      if (closed_) throw ChannelError("channel closed");
      if (!in_.data.empty()) {
        const size_t n = std::min(out.size(), in_.data.size());
        std::copy_n(in_.data.begin(), n, out.begin());
        in_.data.erase(in_.data.begin(), in_.data.begin() + static_cast<std::ptrdiff_t>(n));
        link_->changed.notify_all();
        return n;
      }
      if (link_->reset) throw ChannelError("connection reset");
      if (in_.ended()) throw ChannelError("connection closed by the peer");
      wait(
          lock, [&] { return !in_.data.empty() || in_.ended() || stopped(); }, "receiving");
    }
  }

  bool readable() override {
    std::lock_guard lock(link_->mutex);
    return !in_.data.empty() || in_.ended() || stopped();
  }

  void close() override {
    std::lock_guard lock(link_->mutex);
    closed_ = true;
    out_.writer_closed = true;
    in_.reader_closed = true;
    link_->changed.notify_all();
  }

  void set_io_timeout(std::chrono::milliseconds timeout) override {
    std::lock_guard lock(link_->mutex);
    timeout_ = timeout;
  }

 private:
  bool stopped() const { return closed_ || link_->reset; }

  void check_usable_for_sending() const {
    if (closed_) throw ChannelError("channel closed");
    if (link_->reset) throw ChannelError("connection reset");
    if (out_.reader_closed) throw ChannelError("connection closed by the peer");
  }

  template <class Ready>
  void wait(std::unique_lock<std::mutex>& lock, Ready ready, const char* what) {
    if (!link_->changed.wait_for(lock, timeout_, ready))
      throw ChannelTimeout(std::string("no progress ") + what + " for " + std::to_string(timeout_.count()) + " ms");
  }

  std::shared_ptr<Link> link_;
  Direction& out_;
  Direction& in_;
  std::chrono::milliseconds timeout_;
  bool closed_ = false;  // guarded by link_->mutex
};

}  // namespace

MemoryChannelPair make_memory_channel_pair(const MemoryChannelOptions& options) {
  auto link = std::make_shared<Link>();
  link->capacity = std::max<size_t>(options.capacity, 1);
  link->directions[0].faults = options.to_second;
  link->directions[1].faults = options.to_first;
  return {std::make_unique<MemoryChannel>(link, 0, options.io_timeout),
          std::make_unique<MemoryChannel>(link, 1, options.io_timeout)};
}

}  // namespace wren::migrate::live
