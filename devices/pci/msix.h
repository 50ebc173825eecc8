#pragma once
// MSI-X (PCI 3.0 §6.8.2): the capability in config space, the vector table
// (16 bytes per vector: address lo/hi, data, vector control) and the pending
// bit array, both served from a BAR region by the owning device.
//
// notify(v): if MSI-X is disabled -> false (the caller falls back to INTx);
// if the function or the vector is masked -> set the PBA bit; otherwise
// deliver through the MsiVectorSink. Unmasking delivers pending vectors.
// Thread-safe: table accesses (vCPU threads) and notify (device thread) may
// race; the sink is called without the table lock held.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "devices/pci/config_space.h"
#include "devices/pci/msi_vector_sink.h"

namespace wren::pci {

inline constexpr uint16_t kMsixMaxVectors = 2048;
inline constexpr uint32_t kMsixEntrySize = 16;
inline constexpr uint16_t kMsixControlEnable = 1u << 15;
inline constexpr uint16_t kMsixControlFunctionMask = 1u << 14;
inline constexpr uint32_t kMsixVectorMasked = 1u << 0;

class MsixTable {
 public:
  struct State {
    std::vector<uint8_t> table;     // vectors * 16 bytes, as the guest sees it
    std::vector<uint64_t> pending;  // PBA words
  };

  // `vectors` in 1..2048 (host invariant: throws std::invalid_argument).
  MsixTable(uint16_t vectors, std::shared_ptr<MsiVectorSink> sink);

  uint16_t vectors() const { return vectors_; }
  uint32_t table_bytes() const { return uint32_t{vectors_} * kMsixEntrySize; }
  uint32_t pba_bytes() const { return static_cast<uint32_t>(pending_.size() * 8); }

  // Adds the MSI-X capability: table at `table_offset` and PBA at
  // `pba_offset` of BAR `bar` (offsets 8-byte aligned). Returns its offset.
  uint8_t add_capability(PciConfigSpace& config, uint8_t bar, uint32_t table_offset, uint32_t pba_offset);
  // Call after every guest config write that may touch the capability (cheap):
  // re-reads MSI-X enable and function mask.
  void config_written(const PciConfigSpace& config);

  // Region accesses at offsets relative to the table / PBA start. Any width;
  // bytes past the end read 0 and are not written. The PBA is read-only.
  void table_read(uint64_t offset, std::span<uint8_t> out) const;
  void table_write(uint64_t offset, std::span<const uint8_t> in);
  void pba_read(uint64_t offset, std::span<uint8_t> out) const;

  bool enabled() const;
  bool function_masked() const;
  bool vector_masked(uint16_t vector) const;
  bool pending(uint16_t vector) const;

  // Fires or latches `vector`. Returns false only when MSI-X is disabled or
  // the vector does not exist (no interrupt was delivered or latched).
  bool notify(uint16_t vector);

  // Power-on state: disabled, every vector masked with a zero message, no
  // pending bits. (The capability's control word is reset with config space.)
  void reset();

  State save() const;
  // Validates sizes against this table; on failure nothing changes. The
  // enable/function-mask bits come from config space (call config_written).
  [[nodiscard]] bool restore(const State& state);

 private:
  struct Message {
    uint64_t address;
    uint32_t data;
  };
  Message message(uint16_t vector) const;
  bool masked_locked(uint16_t vector) const;
  // Collects vectors that became deliverable (pending ones are delivered and
  // cleared; newly routable ones are reported through route_changed).
  void collect_deliverable(std::vector<std::pair<uint16_t, Message>>& fire,
                           std::vector<std::pair<uint16_t, Message>>& routes, const std::vector<bool>& was_masked);
  std::vector<bool> mask_snapshot() const;
  void dispatch(const std::vector<std::pair<uint16_t, Message>>& fire,
                const std::vector<std::pair<uint16_t, Message>>& routes);

  const uint16_t vectors_;
  std::shared_ptr<MsiVectorSink> sink_;
  uint8_t cap_offset_ = 0;

  mutable std::mutex mutex_;
  std::vector<uint8_t> table_;
  std::vector<uint64_t> pending_;
  bool enabled_ = false;
  bool function_masked_ = false;
};

}  // namespace wren::pci
