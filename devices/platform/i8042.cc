#include "devices/platform/i8042.h"

#include <algorithm>
#include <utility>

#include "hypervisor/layout.h"

namespace wren {
namespace {

constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusAuxData = 0x20;

constexpr uint8_t kCtrKbdDisabled = 0x10;
constexpr uint8_t kCtrAuxDisabled = 0x20;

constexpr uint8_t kOutputPortNotReset = 0x01;

// Controller commands written to port 0x64.
constexpr uint8_t kCmdReadControl = 0x20;
constexpr uint8_t kCmdWriteControl = 0x60;
constexpr uint8_t kCmdDisableAux = 0xa7;
constexpr uint8_t kCmdEnableAux = 0xa8;
constexpr uint8_t kCmdTestAux = 0xa9;
constexpr uint8_t kCmdSelfTest = 0xaa;
constexpr uint8_t kCmdTestKbd = 0xab;
constexpr uint8_t kCmdDisableKbd = 0xad;
constexpr uint8_t kCmdEnableKbd = 0xae;
constexpr uint8_t kCmdReadInputPort = 0xc0;
constexpr uint8_t kCmdReadOutputPort = 0xd0;
constexpr uint8_t kCmdWriteOutputPort = 0xd1;
constexpr uint8_t kCmdWriteKbdOutput = 0xd2;
constexpr uint8_t kCmdWriteAuxOutput = 0xd3;  // Linux's "AUX loop"
constexpr uint8_t kCmdWriteToAux = 0xd4;
constexpr uint8_t kCmdPulseFirst = 0xf0;  // 0xf0-0xff pulse output lines whose bit is 0

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceOk = 0x00;
constexpr uint8_t kAuxClockStuckLow = 0x01;

bool takes_data_byte(uint8_t command) {
  switch (command) {
    case kCmdWriteControl:
    case kCmdWriteOutputPort:
    case kCmdWriteKbdOutput:
    case kCmdWriteAuxOutput:
    case kCmdWriteToAux: return true;
    default: return false;
  }
}

}  // namespace

I8042::I8042(ResetCallback on_reset) : on_reset_(std::move(on_reset)) {}

void I8042::respond_locked(uint8_t value, bool from_aux) {
  state_.output = value;
  state_.output_full = true;
  state_.output_from_aux = from_aux;
}

uint8_t I8042::read_data() {
  std::lock_guard lock(mutex_);
  // Reading with OBF clear returns the stale byte, as hardware does.
  state_.output_full = false;
  state_.output_from_aux = false;
  return state_.output;
}

uint8_t I8042::read_status() {
  std::lock_guard lock(mutex_);
  // The input buffer is consumed synchronously, so IBF is never set, and
  // with no byte waiting the status reads 0.
  uint8_t status = 0;
  if (state_.output_full) status |= kStatusOutputFull;
  if (state_.output_full && state_.output_from_aux) status |= kStatusAuxData;
  return status;
}

void I8042::write_data(uint8_t value) {
  bool reset = false;
  {
    std::lock_guard lock(mutex_);
    uint8_t command = std::exchange(state_.pending_command, 0);
    switch (command) {
      case kCmdWriteControl: state_.control = value; break;
      case kCmdWriteOutputPort:
        state_.output_port = value;
        reset = !(value & kOutputPortNotReset);
        break;
      case kCmdWriteKbdOutput: respond_locked(value); break;
      case kCmdWriteAuxOutput:
        // There is no AUX port: echo the byte without AUXDATA, which Linux's
        // AUX loop test rejects immediately rather than timing out.
        respond_locked(value);
        break;
      case kCmdWriteToAux:
      default:
        // Bytes for an attached device: there is none, drop them.
        break;
    }
    if (reset) ++reset_requests_;
  }
  if (reset && on_reset_) on_reset_();
}

void I8042::write_command(uint8_t command) {
  bool reset = false;
  {
    std::lock_guard lock(mutex_);
    state_.pending_command = 0;
    if (takes_data_byte(command)) {
      state_.pending_command = command;
    } else if (command == kCmdReadControl) {
      respond_locked(state_.control);
    } else if (command == kCmdSelfTest) {
      respond_locked(kSelfTestPassed);
    } else if (command == kCmdTestKbd) {
      respond_locked(kInterfaceOk);
    } else if (command == kCmdTestAux) {
      // Report a broken AUX interface so Linux gives up on the mouse at once.
      respond_locked(kAuxClockStuckLow);
    } else if (command == kCmdDisableAux) {
      state_.control |= kCtrAuxDisabled;
    } else if (command == kCmdEnableAux) {
      state_.control &= static_cast<uint8_t>(~kCtrAuxDisabled);
    } else if (command == kCmdDisableKbd) {
      state_.control |= kCtrKbdDisabled;
    } else if (command == kCmdEnableKbd) {
      state_.control &= static_cast<uint8_t>(~kCtrKbdDisabled);
    } else if (command == kCmdReadInputPort) {
      respond_locked(0x00);
    } else if (command == kCmdReadOutputPort) {
      respond_locked(state_.output_port);
    } else if (command >= kCmdPulseFirst) {
      // Bit 0 clear pulses the CPU reset line (0xfe is the classic one).
      reset = !(command & 0x01);
    }
    // Anything else is ignored: no response, no state change.
    if (reset) ++reset_requests_;
  }
  if (reset && on_reset_) on_reset_();
}

uint64_t I8042::reset_requests() const {
  std::lock_guard lock(mutex_);
  return reset_requests_;
}

I8042::State I8042::save() const {
  std::lock_guard lock(mutex_);
  return state_;
}

bool I8042::valid(const State& s) {
  if (s.pending_command != 0 && !takes_data_byte(s.pending_command)) return false;
  if (s.output_from_aux && !s.output_full) return false;
  return true;
}

bool I8042::restore(const State& s) {
  if (!valid(s)) return false;
  std::lock_guard lock(mutex_);
  state_ = s;
  return true;
}

I8042Port::I8042Port(std::shared_ptr<I8042> controller, Which which)
    : controller_(std::move(controller)), which_(which) {}

void I8042Port::read(uint64_t offset, std::span<uint8_t> data) {
  if (data.size() != 1 || offset != 0) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  data[0] = which_ == Which::kData ? controller_->read_data() : controller_->read_status();
}

void I8042Port::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1 || offset != 0) return;
  if (which_ == Which::kData) {
    controller_->write_data(data[0]);
  } else {
    controller_->write_command(data[0]);
  }
}

bool insert_i8042(IoBus& bus, std::shared_ptr<I8042> controller) {
  auto data = std::make_shared<I8042Port>(controller, I8042Port::Which::kData);
  auto command = std::make_shared<I8042Port>(controller, I8042Port::Which::kCommand);
  if (!bus.insert(layout::kPortI8042Data, 1, data)) return false;
  if (!bus.insert(layout::kPortI8042Cmd, 1, command)) {
    bus.remove(layout::kPortI8042Data);
    return false;
  }
  return true;
}

}  // namespace wren
