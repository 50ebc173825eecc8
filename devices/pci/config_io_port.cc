#include "devices/pci/config_io_port.h"

#include <algorithm>

#include "hypervisor/little_endian.h"

namespace wren::pci {

namespace {
constexpr uint64_t kDataOffset = 4;          // 0xCFC - 0xCF8
constexpr uint64_t kResetControlOffset = 1;  // 0xCF9
constexpr uint8_t kResetCpu = 1u << 2;
}  // namespace

uint32_t PciConfigIoPort::address() const {
  std::lock_guard lock(mutex_);
  return address_;
}

void PciConfigIoPort::read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
  if (offset + data.size() > kLength || data.empty() || data.size() > 4) return;
  if (offset < kDataOffset) {
    std::lock_guard lock(mutex_);
    if (offset == 0 && data.size() == 4) {
      store_le(data, address_);
    } else if (offset == kResetControlOffset && data.size() == 1) {
      data[0] = reset_control_;
    }
    return;
  }
  uint32_t address = 0;
  {
    std::lock_guard lock(mutex_);
    address = address_;
  }
  if (!(address & kEnable)) return;
  const uint16_t reg = static_cast<uint16_t>((address & 0xfc) + (offset - kDataOffset));
  bus_.config_read(static_cast<uint8_t>(address >> 16), (address >> 11) & 0x1f, (address >> 8) & 0x7, reg, data);
}

void PciConfigIoPort::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset + data.size() > kLength || data.empty() || data.size() > 4) return;
  if (offset < kDataOffset) {
    bool reset_requested = false;
    {
      std::lock_guard lock(mutex_);
      if (offset == 0 && data.size() == 4) {
        // Bits 1:0 are reserved (read as zero); bits 30:24 are reserved too.
        address_ = static_cast<uint32_t>(load_le(data)) & 0x80fffffc;
      } else if (offset == kResetControlOffset && data.size() == 1) {
        reset_control_ = data[0] & 0x0e;
        reset_requested = data[0] & kResetCpu;
      }
    }
    if (reset_requested && on_reset_request_) on_reset_request_();
    return;
  }
  uint32_t address = 0;
  {
    std::lock_guard lock(mutex_);
    address = address_;
  }
  if (!(address & kEnable)) return;
  const uint16_t reg = static_cast<uint16_t>((address & 0xfc) + (offset - kDataOffset));
  bus_.config_write(static_cast<uint8_t>(address >> 16), (address >> 11) & 0x1f, (address >> 8) & 0x7, reg, data);
}

}  // namespace wren::pci
