#pragma once
// The link rate as pre-copy measures it, and what it predicts: the source
// stops the guest once the dirty pages left would go out within the
// downtime budget.
#include <chrono>
#include <cstdint>

namespace wren::migrate::live {

// Wire bytes of one dirty page (the worst case: a data record).
inline constexpr uint64_t kWireBytesPerPage = 4096 + 9;

class BandwidthMeter {
 public:
  // Rounds smaller than this are too short to time; they are merged with the
  // next ones until a sample is this big.
  static constexpr uint64_t kMinSampleBytes = 1 << 20;

  void add(uint64_t bytes, std::chrono::nanoseconds took);
  // Bytes/s of the latest complete sample (before the first one: of all
  // bytes so far); 0 before anything was measured.
  double bytes_per_second() const;

 private:
  static double rate(uint64_t bytes, std::chrono::nanoseconds took);
  double latest_ = 0;
  uint64_t pending_bytes_ = 0;
  std::chrono::nanoseconds pending_time_{0};
};

// How long `pages` dirty pages take at `bytes_per_second`; 0 when nothing is
// left, "forever" (max) when the rate is unknown.
[[nodiscard]] std::chrono::milliseconds estimate_send_time(uint64_t pages, double bytes_per_second);

}  // namespace wren::migrate::live
