#pragma once
// A minimal i8042 keyboard controller with nothing plugged into it. It exists
// so the guest can reset the machine (command 0xFE, or an output-port write
// with bit 0 clear) and so Linux's i8042 probe completes quickly: it answers
// the controller commands the probe issues and makes the AUX (mouse) checks
// fail at once instead of timing out. No keyboard or mouse is emulated, and
// no IRQ is raised: every answer is polled through the status register.
//
// The controller owns two ports that are not adjacent (0x60 data, 0x64
// command/status), so it is reached through two one-byte BusDevice views;
// insert_i8042() puts both on a bus.
//
// Threading: all state is behind one mutex; on_reset runs on the calling
// vCPU thread with that mutex released (it should only request a reset from
// the machine, e.g. post to the event loop, never destroy the controller).
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>

#include "hypervisor/io_bus.h"

namespace wren {

class I8042 {
 public:
  using ResetCallback = std::function<void()>;

  struct State {
    uint8_t control = 0x45;        // CTR ("command byte"): kbd int, system flag, translate
    uint8_t output_port = 0x03;    // bit 0 = not in reset, bit 1 = A20 enabled
    uint8_t pending_command = 0;   // a command waiting for its data byte, or 0
    bool output_full = false;      // OBF: `output` holds a byte for the guest
    bool output_from_aux = false;  // status AUXDATA for that byte
    uint8_t output = 0;
  };

  explicit I8042(ResetCallback on_reset);

  // Port 0x60.
  uint8_t read_data();
  void write_data(uint8_t value);
  // Port 0x64.
  uint8_t read_status();
  void write_command(uint8_t command);

  uint64_t reset_requests() const;

  State save() const;
  // Refuses a pending command that takes no data byte, or AUXDATA without OBF.
  [[nodiscard]] bool restore(const State& state);
  [[nodiscard]] static bool valid(const State& state);

 private:
  void respond_locked(uint8_t value, bool from_aux = false);

  const ResetCallback on_reset_;
  mutable std::mutex mutex_;
  State state_;
  uint64_t reset_requests_ = 0;
};

// A one-byte BusDevice view of one of the controller's two ports.
class I8042Port final : public BusDevice {
 public:
  enum class Which { kData, kCommand };
  I8042Port(std::shared_ptr<I8042> controller, Which which);
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  std::shared_ptr<I8042> controller_;
  Which which_;
};

// Inserts the data view at layout::kPortI8042Data and the command/status view
// at layout::kPortI8042Cmd, one byte each. False if either range is taken
// (then neither is left inserted).
[[nodiscard]] bool insert_i8042(IoBus& bus, std::shared_ptr<I8042> controller);

}  // namespace wren
