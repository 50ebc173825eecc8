#pragma once
// A write-only character port compatible with QEMU's isa-debugcon (port
// 0x402 on a PC): SeaBIOS detects it by reading back 0xE9 and then writes its
// debug log there, one byte per access. Complete lines go to `on_line`
// (without the newline); an overlong line is passed on in pieces.
//
// Threading: a mutex guards the line buffer; on_line runs on the writing
// vCPU thread with the mutex released.
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>

#include "hypervisor/io_bus.h"

namespace wren {

class DebugConsole final : public BusDevice {
 public:
  static constexpr uint16_t kDefaultPort = 0x402;
  static constexpr uint8_t kReadback = 0xe9;
  static constexpr size_t kMaxLine = 1024;

  using LineCallback = std::function<void(const std::string& line)>;
  explicit DebugConsole(LineCallback on_line) : on_line_(std::move(on_line)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  const LineCallback on_line_;
  std::mutex mutex_;
  std::string line_;
};

}  // namespace wren
