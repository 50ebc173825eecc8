#pragma once
// Snapshot files: a state section (stream.h) holding every payload plus the
// RAM layout, then one page batch (guest_pages.h) of all guest RAM.
//
// Writing (machine paused):
//   std::vector<Payload> p;
//   p.push_back(make_payload(kinds::kVcpu, "cpu0", capture_vcpu_state(vcpu, kvm)));
//   ...
//   write_snapshot_file(path, p, memory);
// Reading (new process, machine built but not started):
//   auto snap = SnapshotReader::open(path);          // container + import rules
//   if (!snap) fail(snap.error());
//   auto vcpu0 = snap->import().take(kinds::kVcpu, "cpu0", ...);
//   ...; snap->import().finish(); snap->load_memory(memory);
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/unique_fd.h"
#include "migrate/byte_io.h"
#include "migrate/expected.h"
#include "migrate/guest_pages.h"
#include "migrate/kinds.h"
#include "migrate/payload.h"
#include "migrate/registry.h"

namespace wren::migrate {

// Adds the memory/layout payload ("ram") and writes the snapshot.
PageStats write_snapshot(ByteSink& sink, std::vector<Payload> payloads, const GuestMemory& memory);
// Same, to `path` atomically: written to "<path>.tmp", fsynced, renamed.
// Throws std::system_error on host I/O failure (the temp file is removed).
PageStats write_snapshot_file(const std::string& path, std::vector<Payload> payloads, const GuestMemory& memory);

class SnapshotReader {
 public:
  // Reads and checks the state section and applies the import rules; the
  // RAM layout payload is taken here (checked again by load_memory).
  [[nodiscard]] static Expected<SnapshotReader> open(const std::string& path,
                                                     const PayloadRegistry& registry = kinds::default_registry());
  // The same from any source (positioned at the start of the snapshot).
  [[nodiscard]] static Expected<SnapshotReader> read(std::unique_ptr<ByteSource> source,
                                                     const PayloadRegistry& registry = kinds::default_registry());

  Import& import() { return *import_; }
  const GuestMemoryLayout& layout() const { return layout_; }

  // Checks `memory` has the snapshot's layout, then reads every page into it.
  // Call once, after the payloads were taken and before any vCPU runs.
  [[nodiscard]] Expected<PageStats> load_memory(GuestMemory& memory);

 private:
  SnapshotReader() = default;
  UniqueFd fd_;
  std::unique_ptr<ByteSource> source_;
  std::optional<Import> import_;
  GuestMemoryLayout layout_;
  bool memory_loaded_ = false;
};

// The whole file as JSON for `wren snapshot inspect FILE`: the header, each
// payload decoded with its fields (or why it does not decode), and a summary
// of the memory section. Fails only if the file cannot be read at all.
[[nodiscard]] Expected<std::string> inspect_snapshot_file(const std::string& path,
                                                          const PayloadRegistry& registry = kinds::default_registry());
// The same over bytes already in memory.
[[nodiscard]] Expected<std::string> inspect_snapshot(ByteSource& source,
                                                     const PayloadRegistry& registry = kinds::default_registry());

}  // namespace wren::migrate
