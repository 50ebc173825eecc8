#include "migrate/live/channel.h"

namespace wren::migrate::live {

void Channel::receive(std::span<uint8_t> out) {
  size_t filled = 0;
  while (filled < out.size()) filled += receive_some(out.subspan(filled));
}

}  // namespace wren::migrate::live
