#include "migrate/live/bandwidth.h"

#include <algorithm>
#include <cmath>

namespace wren::migrate::live {

double BandwidthMeter::rate(uint64_t bytes, std::chrono::nanoseconds took) {
  // A round that took no measurable time still had to move its bytes.
  const double seconds = static_cast<double>(std::max<int64_t>(took.count(), 1)) / 1e9;
  return static_cast<double>(bytes) / seconds;
}

void BandwidthMeter::add(uint64_t bytes, std::chrono::nanoseconds took) {
  pending_bytes_ += bytes;
  pending_time_ += took;
  if (pending_bytes_ < kMinSampleBytes) return;
  latest_ = rate(pending_bytes_, pending_time_);
  pending_bytes_ = 0;
  pending_time_ = std::chrono::nanoseconds{0};
}

double BandwidthMeter::bytes_per_second() const {
  if (latest_ > 0) return latest_;
  return pending_bytes_ ? rate(pending_bytes_, pending_time_) : 0;
}

std::chrono::milliseconds estimate_send_time(uint64_t pages, double bytes_per_second) {
  if (pages == 0) return std::chrono::milliseconds{0};
  if (bytes_per_second <= 0) return std::chrono::milliseconds::max();
  const double ms = std::ceil(static_cast<double>(pages) * kWireBytesPerPage * 1000.0 / bytes_per_second);
  return std::chrono::milliseconds{static_cast<int64_t>(std::min(ms, 1e15))};
}

}  // namespace wren::migrate::live
