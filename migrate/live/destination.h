#pragma once
// The receiving side of a live migration (protocol: PROTOCOL.md).
//
//   TcpListener listener(*parse_tcp_address("tcp:0.0.0.0:4444", true));
//   auto channel = listener.accept();
//   MigrationDestination incoming(vm, *channel);   // vm: the VMM's DestinationVm
//   DestinationResult r = incoming.run();
//   if (r.committed) run the guest; else exit non-zero with r.error.
//
// `committed` is true only when Commit arrived after every page and payload
// was loaded and accepted. Any failure before that leaves it false: the
// machine holds a partial guest and must never run.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "migrate/expected.h"
#include "migrate/live/channel.h"
#include "migrate/live/messages.h"
#include "migrate/live/vm_config.h"
#include "migrate/registry.h"

namespace wren::migrate::live {

// What the VMM provides: a machine built like the source (memory, devices,
// vCPUs created) whose vCPUs have never run.
class DestinationVm {
 public:
  virtual ~DestinationVm() = default;
  virtual VmConfig config() = 0;
  virtual GuestMemory& memory() = 0;
  // Takes every payload the machine has (vCPUs, VM, devices) from `import`
  // and restores it, as a snapshot restore does. Called once, after all of
  // guest memory arrived. The first problem, returned or thrown, refuses the
  // migration. The migration itself takes the memory layout payload and
  // checks Import::finish() afterwards (nothing left over).
  virtual Status restore(Import& import) = 0;
};

enum class DestinationPhase { negotiating, checking_config, receiving_memory, loading_state, waiting_commit, done };
[[nodiscard]] const char* phase_name(DestinationPhase phase);

struct DestinationProgress {
  DestinationPhase phase = DestinationPhase::negotiating;
  uint32_t round = 0;           // last round completed
  uint64_t pages_received = 0;  // data + zero pages, all rounds
  uint64_t bytes_received = 0;  // frames
};

struct DestinationOptions {
  std::vector<uint32_t> versions = kSupportedVersions;
  const PayloadRegistry* registry = nullptr;  // nullptr: kinds::default_registry()
  // After sending Reject, keep reading (and dropping) what the source still
  // sends until it hangs up, at most this long, so the Reject is read
  // rather than lost to a connection reset.
  std::chrono::milliseconds reject_linger{2000};
  std::function<void(const DestinationProgress&)> on_progress;
};

struct DestinationResult {
  bool committed = false;  // run the guest (only then)
  std::string error;       // why not
  uint32_t version = 0;
  uint32_t rounds = 0;
  uint64_t pages_received = 0;
  uint64_t bytes_received = 0;
  bool ok() const { return committed; }
};

class MigrationDestination {
 public:
  MigrationDestination(DestinationVm& vm, Channel& channel, DestinationOptions options = {});

  // The whole migration, on the calling thread; closes the channel before
  // returning. Call once.
  DestinationResult run();

 private:
  void negotiate();
  void check_config();
  void receive_memory_and_state();
  void receive_pages(const Frame& frame);
  void end_round(const Frame& frame);
  void load_state();
  void await_commit();
  void refuse_and_linger(const std::string& reason);
  Frame next_frame();
  void report(DestinationPhase phase);

  DestinationVm& vm_;
  Channel& channel_;
  DestinationOptions options_;
  DestinationResult result_;
  uint32_t ended_round_ = 0;    // the last RoundEnd
  uint32_t open_round_ = 0;     // Pages seen, RoundEnd not yet; 0: none
  uint64_t round_pages_ = 0;    // pages of the open round
  bool state_started_ = false;  // a State frame came: no more pages or rounds
  std::vector<uint8_t> state_;
};

}  // namespace wren::migrate::live
