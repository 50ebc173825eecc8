#include "devices/platform/system_control_port_a.h"

#include <algorithm>

namespace wren {

void SystemControlPortA::read(uint64_t, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
  if (!data.empty()) data[0] = value_.load();
}

void SystemControlPortA::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0 || data.empty()) return;
  const uint8_t old = value_.exchange(data[0]);
  // Only a rising edge resets: writing the value back (bit 0 still set) must not.
  if ((data[0] & kFastReset) && !(old & kFastReset)) {
    ++reset_requests_;
    if (on_reset_) on_reset_();
  }
}

}  // namespace wren
