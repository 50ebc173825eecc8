#pragma once
// One turn of a device's work (a kick, an I/O completion, an activation),
// run by the device with its own lock held. A host-side exception in it (a
// failed allocation, a backend, the interrupt path) must not reach the event
// loop, where it would end the VMM and every other device with it: it
// becomes `fail(reason)`, with which the device sets DEVICE_NEEDS_RESET and
// logs, and the loop goes on. Shared by every virtio device.
#include <exception>
#include <string>
#include <utility>

namespace wren {

template <typename Work, typename Fail>
void run_device_turn(Work&& work, Fail&& fail) {
  try {
    std::forward<Work>(work)();
  } catch (const std::exception& e) {
    fail(std::string("internal error: ") + e.what());
  } catch (...) {
    fail(std::string("internal error: unknown exception"));
  }
}

}  // namespace wren
