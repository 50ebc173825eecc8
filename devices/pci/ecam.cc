#include "devices/pci/ecam.h"

#include <algorithm>

namespace wren::pci {

namespace {

struct EcamAddress {
  uint8_t bus;
  uint8_t slot;
  uint8_t function;
  uint16_t reg;
};

EcamAddress decode(uint64_t offset) {
  return {static_cast<uint8_t>((offset >> 20) & 0xff), static_cast<uint8_t>((offset >> 15) & 0x1f),
          static_cast<uint8_t>((offset >> 12) & 0x7), static_cast<uint16_t>(offset & 0xfff)};
}

bool valid_access(uint64_t offset, size_t width) {
  if (width != 1 && width != 2 && width != 4 && width != 8) return false;
  return (offset & 0xfff) + width <= 0x1000;
}

}  // namespace

void PciEcam::read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
  if (!valid_access(offset, data.size())) return;
  for (size_t done = 0; done < data.size(); done += 4) {
    const size_t n = std::min<size_t>(4, data.size() - done);
    const auto a = decode(offset + done);
    bus_.config_read(a.bus, a.slot, a.function, a.reg, data.subspan(done, n));
  }
}

void PciEcam::write(uint64_t offset, std::span<const uint8_t> data) {
  if (!valid_access(offset, data.size())) return;
  for (size_t done = 0; done < data.size(); done += 4) {
    const size_t n = std::min<size_t>(4, data.size() - done);
    const auto a = decode(offset + done);
    bus_.config_write(a.bus, a.slot, a.function, a.reg, data.subspan(done, n));
  }
}

}  // namespace wren::pci
