#pragma once
// QEMU's run-state shapes (qapi/run-state.json): StatusInfo for
// query-status and the SHUTDOWN event's data.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

namespace wren {

// {"running", "singlestep", "status": "running"|"paused"}, plus "wren": {cpus, memory}.
nlohmann::json status_info_json(bool paused, uint32_t cpus, uint64_t memory_bytes);

// Why the VMM ends, as QEMU's ShutdownCause names it.
enum class ShutdownCause { kGuestShutdown, kGuestReset, kHostQmpQuit, kHostQmpSystemReset };
// {"guest": bool, "reason": ShutdownCause}
nlohmann::json shutdown_event_json(ShutdownCause cause);

}  // namespace wren
