#pragma once
// What live migration needs from the machine, on either end.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "hypervisor/event_loop.h"
#include "migrate/live/vm_config.h"
#include "vmm/migration/snapshot_io.h"

namespace wren {

struct MigrationHost {
  SnapshotParts parts;
  EventLoop& loop;
  bool manual_dirty_protect = false;  // Vm::enable_manual_dirty_log_protect()
  std::function<migrate::live::VmConfig()> config;
  // Source only. Called on the migration thread while the device loop is parked.
  std::function<bool()> is_paused;
  std::function<void()> pause_vcpus;
  std::function<void()> resume_vcpus;
  // The destination runs the guest now: end this VMM with this message.
  std::function<void(const std::string&)> on_migrated;
  // Events for the control socket (may be empty); callable from any thread.
  std::function<void(const std::string& event, const nlohmann::json& data)> emit;
};

}  // namespace wren
