#include "vmm/migration/dirty_tracker.h"

namespace wren {

namespace {
constexpr uint64_t kPage = 4096;
}

DirtyTracker::DirtyTracker(Vm& vm, GuestMemory& memory, bool manual_protect)
    : vm_(vm), memory_(memory), manual_protect_(manual_protect) {}

DirtyTracker::~DirtyTracker() {
  try {
    stop();
  } catch (...) {
    // Logging left on only costs write faults; never throw from a destructor.
  }
}

void DirtyTracker::set_logging(bool on) {
  const auto& regions = memory_.regions();
  for (size_t i = 0; i < regions.size(); ++i)
    vm_.set_user_memory_region(static_cast<uint32_t>(i), regions[i].gpa, regions[i].size,
                               memory_.host_address_for_kvm(i), on);
}

void DirtyTracker::start() {
  set_logging(true);
  running_ = true;
  (void)take();
}

void DirtyTracker::stop() {
  if (!running_) return;
  running_ = false;
  set_logging(false);
}

std::vector<uint64_t> DirtyTracker::take() {
  std::vector<uint64_t> pages;
  const auto& regions = memory_.regions();
  for (size_t i = 0; i < regions.size(); ++i) {
    const uint64_t count = regions[i].size / kPage;
    std::vector<uint64_t> bitmap((count + 63) / 64);
    const auto slot = static_cast<uint32_t>(i);
    vm_.get_dirty_log(slot, bitmap);
    // Re-arm before the pages are read, so a write after this point is logged again.
    if (manual_protect_) vm_.clear_dirty_log(slot, count, bitmap);
    const auto by_devices = memory_.take_dirty_bitmap(i);
    for (size_t w = 0; w < bitmap.size(); ++w) {
      uint64_t word = bitmap[w] | (w < by_devices.size() ? by_devices[w] : 0);
      while (word) {
        const int bit = __builtin_ctzll(word);
        word &= word - 1;
        const uint64_t page = w * 64 + static_cast<uint64_t>(bit);
        if (page < count) pages.push_back(regions[i].gpa + page * kPage);
      }
    }
  }
  return pages;
}

}  // namespace wren
