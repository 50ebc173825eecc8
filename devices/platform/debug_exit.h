#pragma once
// A test-exit device compatible with QEMU's isa-debug-exit: a guest write of
// value v ends the VM with exit status (v << 1) | 1, so a test guest can
// report pass/fail (an odd status can never be mistaken for a clean 0).
// Reads return all ones. Stateless, so it has no State to migrate.
//
// QEMU's default placement is port 0x501, width 2; the port is the
// machine's choice (insert at port(), length claimed_length()).
//
// Like QEMU's, a write that starts inside the width counts even when it is
// wider (an `outl` to a 1-port device): its low bytes are the value. So the
// device claims at least 4 ports, enough for any port access starting at
// port(); writes starting past the width are ignored, as QEMU ignores them.
//
// Threading: no state; on_exit runs on the writing vCPU thread and should
// only request a stop from the machine.
#include <cstdint>
#include <functional>
#include <span>

#include "hypervisor/io_bus.h"

namespace wren {

class DebugExit final : public BusDevice {
 public:
  using ExitCallback = std::function<void(int status)>;

  // Throws std::invalid_argument unless 1 <= width <= 4.
  DebugExit(uint16_t port, unsigned width, ExitCallback on_exit);

  uint16_t port() const { return port_; }
  unsigned width() const { return width_; }
  // Ports to reserve on the bus: the width, and at least one 4-byte access.
  unsigned claimed_length() const { return width_ > kMaxAccess ? width_ : kMaxAccess; }
  static constexpr unsigned kMaxAccess = 4;

  // Maps a written value to the exit status, truncated to 32 bits as QEMU's
  // exit() call does (only the low 8 bits survive a process exit anyway).
  static int status_for(uint64_t value);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  const uint16_t port_;
  const unsigned width_;
  const ExitCallback on_exit_;
};

}  // namespace wren
