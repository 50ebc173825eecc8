#include "devices/platform/debug_console.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace wren {

void DebugConsole::read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
  if (offset == 0 && data.size() == 1) data[0] = kReadback;
}

void DebugConsole::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0 || data.size() != 1) return;
  std::optional<std::string> complete;
  {
    std::lock_guard lock(mutex_);
    const char c = static_cast<char>(data[0]);
    if (c != '\n' && c != '\r') line_.push_back(c);
    if (c == '\n' || line_.size() >= kMaxLine) complete = std::exchange(line_, {});
  }
  if (complete && on_line_) on_line_(*complete);
}

}  // namespace wren
