#include "vmm/api/run_state_report.h"

namespace wren {

nlohmann::json status_info_json(bool paused, uint32_t cpus, uint64_t memory_bytes) {
  return {{"running", !paused},
          {"singlestep", false},  // in QEMU's StatusInfo until 8.1; clients of that era expect it
          {"status", paused ? "paused" : "running"},
          {"wren", {{"cpus", cpus}, {"memory", memory_bytes}}}};
}

nlohmann::json shutdown_event_json(ShutdownCause cause) {
  switch (cause) {
    case ShutdownCause::kGuestShutdown: return {{"guest", true}, {"reason", "guest-shutdown"}};
    case ShutdownCause::kGuestReset: return {{"guest", true}, {"reason", "guest-reset"}};
    case ShutdownCause::kHostQmpQuit: return {{"guest", false}, {"reason", "host-qmp-quit"}};
    case ShutdownCause::kHostQmpSystemReset: return {{"guest", false}, {"reason", "host-qmp-system-reset"}};
  }
  return {{"guest", false}, {"reason", "none"}};
}

}  // namespace wren
