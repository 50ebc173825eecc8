#include "devices/pci/msix.h"

#include <stdexcept>

#include "devices/pci/registers.h"
#include "hypervisor/little_endian.h"

namespace wren::pci {

namespace {
// Entry layout.
constexpr uint32_t kAddrLo = 0;
constexpr uint32_t kAddrHi = 4;
constexpr uint32_t kData = 8;
constexpr uint32_t kControl = 12;
}  // namespace

MsixTable::MsixTable(uint16_t vectors, std::shared_ptr<MsiVectorSink> sink)
    : vectors_(vectors), sink_(std::move(sink)) {
  if (vectors == 0 || vectors > kMsixMaxVectors) throw std::invalid_argument("MSI-X vector count");
  if (!sink_) throw std::invalid_argument("MSI-X needs a sink");
  table_.assign(table_bytes(), 0);
  pending_.assign((vectors + 63) / 64, 0);
  reset();
}

uint8_t MsixTable::add_capability(PciConfigSpace& config, uint8_t bar, uint32_t table_offset, uint32_t pba_offset) {
  if (bar >= kNumBars || (table_offset & 7) || (pba_offset & 7)) throw std::invalid_argument("MSI-X layout");
  const uint16_t control = static_cast<uint16_t>(vectors_ - 1);
  const uint32_t table = table_offset | bar;
  const uint32_t pba = pba_offset | bar;
  const uint8_t body[10] = {
      static_cast<uint8_t>(control),    static_cast<uint8_t>(control >> 8), static_cast<uint8_t>(table),
      static_cast<uint8_t>(table >> 8), static_cast<uint8_t>(table >> 16),  static_cast<uint8_t>(table >> 24),
      static_cast<uint8_t>(pba),        static_cast<uint8_t>(pba >> 8),     static_cast<uint8_t>(pba >> 16),
      static_cast<uint8_t>(pba >> 24),
  };
  // Only MSI-X Enable and Function Mask (bits 15, 14 of the control word) are writable.
  const uint8_t mask[10] = {0, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0};
  cap_offset_ = config.add_capability(kCapIdMsix, body, mask);
  return cap_offset_;
}

MsixTable::Message MsixTable::message(uint16_t v) const {
  const auto* e = table_.data() + size_t{v} * kMsixEntrySize;
  const uint64_t lo = load_le({e + kAddrLo, 4});
  const uint64_t hi = load_le({e + kAddrHi, 4});
  return {lo | (hi << 32), static_cast<uint32_t>(load_le({e + kData, 4}))};
}

bool MsixTable::masked_locked(uint16_t v) const {
  return !enabled_ || function_masked_ || (table_[size_t{v} * kMsixEntrySize + kControl] & kMsixVectorMasked);
}

std::vector<bool> MsixTable::mask_snapshot() const {
  std::vector<bool> masked(vectors_);
  for (uint16_t v = 0; v < vectors_; ++v) masked[v] = masked_locked(v);
  return masked;
}

void MsixTable::collect_deliverable(std::vector<std::pair<uint16_t, Message>>& fire,
                                    std::vector<std::pair<uint16_t, Message>>& routes,
                                    const std::vector<bool>& was_masked) {
  for (uint16_t v = 0; v < vectors_; ++v) {
    if (masked_locked(v)) continue;
    if (was_masked[v]) routes.emplace_back(v, message(v));
    uint64_t& word = pending_[v / 64];
    const uint64_t bit = uint64_t{1} << (v % 64);
    if (word & bit) {
      word &= ~bit;
      fire.emplace_back(v, message(v));
    }
  }
}

void MsixTable::dispatch(const std::vector<std::pair<uint16_t, Message>>& fire,
                         const std::vector<std::pair<uint16_t, Message>>& routes) {
  for (const auto& [v, m] : routes) sink_->route_changed(v, m.address, m.data);
  for (const auto& [v, m] : fire) sink_->deliver(v, m.address, m.data);
}

void MsixTable::config_written(const PciConfigSpace& config) {
  if (cap_offset_ == 0) return;
  const uint16_t control = config.read16(cap_offset_ + 2);
  std::vector<std::pair<uint16_t, Message>> fire, routes;
  {
    std::lock_guard lock(mutex_);
    const bool enabled = control & kMsixControlEnable;
    const bool function_masked = control & kMsixControlFunctionMask;
    if (enabled == enabled_ && function_masked == function_masked_) return;
    const auto was_masked = mask_snapshot();
    enabled_ = enabled;
    function_masked_ = function_masked;
    collect_deliverable(fire, routes, was_masked);
  }
  dispatch(fire, routes);
}

void MsixTable::table_read(uint64_t offset, std::span<uint8_t> out) const {
  std::lock_guard lock(mutex_);
  read_window(table_, offset, out);
}

void MsixTable::table_write(uint64_t offset, std::span<const uint8_t> in) {
  std::vector<std::pair<uint16_t, Message>> fire, routes;
  {
    std::lock_guard lock(mutex_);
    const auto was_masked = mask_snapshot();
    std::vector<Message> before(vectors_);
    for (uint16_t v = 0; v < vectors_; ++v) before[v] = message(v);
    for (size_t i = 0; i < in.size(); ++i) {
      const uint64_t at = offset + i;
      if (at < offset || at >= table_.size()) break;
      const uint32_t field = at % kMsixEntrySize;
      if (field == kControl) {
        table_[at] = in[i] & kMsixVectorMasked;  // the other control bits are reserved
      } else if (field < kControl) {
        table_[at] = in[i];
      }  // bytes 13..15 reserved: stay zero
    }
    collect_deliverable(fire, routes, was_masked);
    // A message rewritten while deliverable (the spec leaves that undefined
    // but drivers do it) must reach a route-caching sink too.
    for (uint16_t v = 0; v < vectors_; ++v) {
      if (was_masked[v] || masked_locked(v)) continue;
      const Message now = message(v);
      if (now.address != before[v].address || now.data != before[v].data) routes.emplace_back(v, now);
    }
  }
  dispatch(fire, routes);
}

void MsixTable::pba_read(uint64_t offset, std::span<uint8_t> out) const {
  std::lock_guard lock(mutex_);
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(pending_.data()), pending_.size() * 8);
  read_window(bytes, offset, out);
}

bool MsixTable::enabled() const {
  std::lock_guard lock(mutex_);
  return enabled_;
}

bool MsixTable::function_masked() const {
  std::lock_guard lock(mutex_);
  return function_masked_;
}

bool MsixTable::vector_masked(uint16_t v) const {
  std::lock_guard lock(mutex_);
  return v >= vectors_ || (table_[size_t{v} * kMsixEntrySize + kControl] & kMsixVectorMasked);
}

bool MsixTable::pending(uint16_t v) const {
  std::lock_guard lock(mutex_);
  return v < vectors_ && (pending_[v / 64] >> (v % 64)) & 1;
}

bool MsixTable::notify(uint16_t v) {
  Message m{};
  {
    std::lock_guard lock(mutex_);
    if (!enabled_ || v >= vectors_) return false;
    if (masked_locked(v)) {
      pending_[v / 64] |= uint64_t{1} << (v % 64);
      return true;
    }
    m = message(v);
  }
  sink_->deliver(v, m.address, m.data);
  return true;
}

void MsixTable::reset() {
  std::lock_guard lock(mutex_);
  std::fill(table_.begin(), table_.end(), 0);
  for (uint16_t v = 0; v < vectors_; ++v) table_[size_t{v} * kMsixEntrySize + kControl] = kMsixVectorMasked;
  std::fill(pending_.begin(), pending_.end(), 0);
  enabled_ = false;
  function_masked_ = false;
}

MsixTable::State MsixTable::save() const {
  std::lock_guard lock(mutex_);
  return {table_, pending_};
}

bool MsixTable::restore(const State& state) {
  if (state.table.size() != table_bytes() || state.pending.size() != pending_.size()) return false;
  std::lock_guard lock(mutex_);
  table_ = state.table;
  // Reserved bits are not state: normalise them like a guest write would.
  for (uint16_t v = 0; v < vectors_; ++v) {
    uint8_t* control = table_.data() + size_t{v} * kMsixEntrySize + kControl;
    control[0] &= kMsixVectorMasked;
    control[1] = control[2] = control[3] = 0;
  }
  pending_ = state.pending;
  if (vectors_ % 64) pending_.back() &= (uint64_t{1} << (vectors_ % 64)) - 1;
  return true;
}

}  // namespace wren::pci
