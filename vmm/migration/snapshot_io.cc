#include "vmm/migration/snapshot_io.h"

#include <sys/stat.h>

#include <cstdio>
#include <stdexcept>

#include "hypervisor/vcpu_state.h"
#include "hypervisor/vm_state.h"
#include "migrate/kinds.h"
#include "migrate/snapshot.h"
#include "vmm/machine/pci_devices.h"
#include "vmm/machine/platform_devices.h"

namespace wren {

namespace {

constexpr const char* kVmInstance = "vm";

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + "M"; }

uint64_t ram_bytes(const migrate::GuestMemoryLayout& layout) {
  uint64_t total = 0;
  for (const auto& r : layout.regions) total += r.size;
  return total;
}

}  // namespace

std::vector<migrate::Payload> capture_machine_payloads(const SnapshotParts& parts) {
  std::vector<migrate::Payload> out;
  // The MSR list is probed once and shared by every vCPU.
  const auto msr_indices =
      parts.vcpus.empty() ? std::vector<uint32_t>{} : saveable_msr_indices(parts.vcpus.front(), parts.kvm);
  for (size_t i = 0; i < parts.vcpus.size(); ++i)
    out.push_back(migrate::make_payload(migrate::kinds::kVcpu, migrate::kinds::vcpu_instance(static_cast<uint32_t>(i)),
                                        capture_vcpu_state(parts.vcpus[i], parts.kvm, msr_indices)));
  out.push_back(migrate::make_payload(migrate::kinds::kVm, kVmInstance, capture_vm_state(parts.vm, true)));
  for (auto& p : parts.platform.save_payloads()) out.push_back(std::move(p));
  for (auto& p : parts.pci.save_payloads()) out.push_back(std::move(p));
  return out;
}

uint64_t save_machine_snapshot(const std::string& path, const SnapshotParts& parts) {
  (void)migrate::write_snapshot_file(path, capture_machine_payloads(parts), parts.memory);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("snapshot '" + path + "' vanished after writing");
  return static_cast<uint64_t>(st.st_size);
}

void restore_machine_state(migrate::Import& import, const SnapshotParts& parts) {
  auto fail = [](const std::string& why) { return std::runtime_error(why); };
  auto vm_state = import.take(migrate::kinds::kVm, kVmInstance);
  if (!vm_state) throw fail(vm_state.error());
  restore_vm_state(parts.vm, *vm_state);

  for (size_t i = 0; i < parts.vcpus.size(); ++i) {
    const auto instance = migrate::kinds::vcpu_instance(static_cast<uint32_t>(i));
    auto state = import.take(migrate::kinds::kVcpu, instance,
                             [&parts](const VcpuState& s) { return check_vcpu_state(s, parts.kvm); });
    if (!state) throw fail(state.error());
    try {
      restore_vcpu_state(parts.vcpus[i], parts.kvm, *state);
    } catch (const std::exception& e) {
      throw fail(std::string(migrate::kinds::kVcpu.name) + " '" + instance + "': " + e.what());
    }
  }

  parts.platform.restore_payloads(import);
  parts.pci.restore_payloads(import);
  if (auto done = import.finish(); !done) throw fail(done.error());
}

void restore_machine_snapshot(const std::string& path, const SnapshotParts& parts, uint64_t memory_bytes) {
  auto fail = [&path](const std::string& why) { return std::runtime_error("--restore '" + path + "': " + why); };
  try {
    auto snap = migrate::SnapshotReader::open(path);
    if (!snap) throw fail(snap.error());
    auto& import = snap->import();

    const uint64_t saved_ram = ram_bytes(snap->layout());
    if (saved_ram != memory_bytes)
      throw fail("the snapshot has " + mib(saved_ram) + " of RAM but --memory is " + mib(memory_bytes) +
                 " (they must match)");
    const auto cpus = import.instances(migrate::kinds::kVcpu.name);
    if (cpus.size() != parts.vcpus.size())
      throw fail("the snapshot has " + std::to_string(cpus.size()) + " vCPUs but --cpus is " +
                 std::to_string(parts.vcpus.size()) + " (they must match)");

    // Memory first: restoring an active virtio device reads its rings.
    if (auto loaded = snap->load_memory(parts.memory); !loaded) throw fail(loaded.error());

    restore_machine_state(import, parts);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.rfind("--restore '", 0) == 0) throw;
    throw fail(what);
  }
  parts.pci.announce_nics();
}

int inspect_snapshot_command(const std::string& path) {
  auto json = migrate::inspect_snapshot_file(path);
  if (!json) {
    std::fprintf(stderr, "wren: snapshot inspect '%s': %s\n", path.c_str(), json.error().c_str());
    return 1;
  }
  std::fprintf(stdout, "%s\n", json->c_str());
  return 0;
}

}  // namespace wren
