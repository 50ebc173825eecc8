#include "devices/platform/debug_exit.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "hypervisor/little_endian.h"

namespace wren {

DebugExit::DebugExit(uint16_t port, unsigned width, ExitCallback on_exit)
    : port_(port), width_(width), on_exit_(std::move(on_exit)) {
  if (width < 1 || width > 4) throw std::invalid_argument("DebugExit: width must be 1..4");
}

int DebugExit::status_for(uint64_t value) { return static_cast<int>(static_cast<uint32_t>((value << 1) | 1)); }

void DebugExit::read(uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0xff); }

void DebugExit::write(uint64_t offset, std::span<const uint8_t> data) {
  // Only the bytes that fall inside the configured width carry the value.
  if (data.empty() || offset >= width_) return;
  const auto inside = data.first(std::min<size_t>(data.size(), width_ - offset));
  if (on_exit_) on_exit_(status_for(load_le(inside)));
}

}  // namespace wren
