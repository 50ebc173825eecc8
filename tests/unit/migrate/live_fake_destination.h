#pragma once
// The receiving machine of the live migration tests, and the small layout
// and configuration both fake machines share. No googletest here: the live
// destination fuzz target (tests/fuzz/live_destination_fuzz.cc) uses it too.
#include <functional>
#include <optional>
#include <stdexcept>

#include "golden_machine.h"
#include "migrate/guest_pages.h"
#include "migrate/live/destination.h"

namespace wren::migrate::live::testing {

inline constexpr uint64_t kHigh = 0x100000000;

inline std::vector<MemoryRegion> small_layout(uint64_t low_pages = 64) {
  return {{0, low_pages * kPageSize}, {kHigh, 16 * kPageSize}};
}

inline VmConfig test_config(uint64_t memory_bytes) {
  VmConfig c;
  c.memory_bytes = memory_bytes;
  c.vcpus = 1;
  c.cpu_model = "baseline";
  c.devices.push_back({"virtio-net",
                       "net0",
                       {{"features", "0x130af8023"}, {"queues", "1"}, {"transport", "modern"}, {"mac-change", "on"}}});
  c.devices.push_back({"uart16550", "com1", {}});
  return c;
}

// Takes what FakeSourceVm (live_fakes.h) sends and keeps it for comparison.
class FakeDestinationVm final : public DestinationVm {
 public:
  explicit FakeDestinationVm(std::vector<MemoryRegion> regions = small_layout())
      : memory_(std::move(regions)), config_(test_config(memory_.total_bytes())) {
    // Stale data where the source has zeros: must be cleared.
    if (!memory_.fill(9 * kPageSize, 0xee, kPageSize)) throw std::logic_error("FakeDestinationVm: no page 9");
  }

  GuestMemory& guest_memory() { return memory_; }
  void set_config(VmConfig c) { config_ = std::move(c); }

  // Replaces the default restore (take every payload of the fake machine).
  std::function<Status(Import&)> restore_hook;
  int restores = 0;
  std::optional<golden_machine::Taken> taken;

  VmConfig config() override { return config_; }
  GuestMemory& memory() override { return memory_; }
  Status restore(Import& import) override {
    ++restores;
    if (restore_hook) return restore_hook(import);
    auto all = golden_machine::take(import);
    if (!all) return Failure{all.error()};
    taken = std::move(all).value();
    return success();
  }

 private:
  GuestMemory memory_;
  VmConfig config_;
};

}  // namespace wren::migrate::live::testing
