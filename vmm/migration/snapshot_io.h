#pragma once
// Snapshots of the whole machine: what `snapshot` on the control socket
// writes and `wren run --restore FILE` reads back (format: migrate/snapshot.h).
#include <cstdint>
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/kvm.h"
#include "migrate/guest_pages.h"
#include "migrate/payload.h"

namespace wren {
namespace migrate {
class Import;
}

class PlatformDevices;
class PciDevices;

// The parts of a built machine a snapshot covers.
struct SnapshotParts {
  const Kvm& kvm;
  Vm& vm;
  GuestMemory& memory;
  std::vector<Vcpu>& vcpus;
  PlatformDevices& platform;
  PciDevices& pci;
};

// Every payload (vCPUs, VM, platform devices, NICs). Every vCPU must be paused.
[[nodiscard]] std::vector<migrate::Payload> capture_machine_payloads(const SnapshotParts& parts);

// Captures and writes `path` atomically; returns the file size in bytes.
// Every vCPU must be paused. Throws on failure (host I/O, device refusal).
uint64_t save_machine_snapshot(const std::string& path, const SnapshotParts& parts);

// Restores every payload but RAM (VM, vCPUs, platform devices, NICs) from
// `import` and checks nothing is left over. Guest memory must already hold
// the guest's RAM (restoring an active virtio device reads its rings), and no
// vCPU may have run. Throws std::runtime_error naming the refused payload.
void restore_machine_state(migrate::Import& import, const SnapshotParts& parts);

// Loads `path` into a machine that was built (memory, devices, vCPUs created)
// but whose vCPUs have never run. `memory_bytes` and the vCPU count must
// match the snapshot. Throws std::runtime_error naming the file and the
// payload on any failure.
void restore_machine_snapshot(const std::string& path, const SnapshotParts& parts, uint64_t memory_bytes);

// `wren snapshot inspect FILE`: prints the JSON to stdout (exit 0) or the
// error to stderr (exit 1). Returns the exit status.
int inspect_snapshot_command(const std::string& path);

}  // namespace wren
