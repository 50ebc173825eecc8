#pragma once
// The configuration space of one PCI function: 256 bytes of PCI header and
// capabilities plus the 4 KiB extended space reachable through ECAM.
//
// Guest writes go through per-byte masks, so read-only bits stay read-only
// whatever the access width; the BAR sizing protocol (write all-ones, read
// back the size mask) falls out of the BAR write masks. Not thread-safe:
// the owning device serialises access.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "devices/pci/bar.h"

namespace wren::pci {

struct PciIdentity {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;    // 24 bits: class << 16 | subclass << 8 | prog-if
  uint8_t interrupt_pin = 0;  // 0 = none, 1 = INTA# .. 4 = INTD#
};

class PciConfigSpace {
 public:
  static constexpr size_t kSize = 4096;
  static constexpr size_t kLegacySize = 256;

  explicit PciConfigSpace(const PciIdentity& identity);

  // --- Guest view ---------------------------------------------------------
  // Bytes outside the 4 KiB space read as 0xff; writes there are dropped.
  void read(uint64_t offset, std::span<uint8_t> out) const;
  // Applies write masks and write-one-to-clear bits.
  void write(uint64_t offset, std::span<const uint8_t> in);

  // --- Device view (ignores masks) ----------------------------------------
  uint8_t read8(uint16_t offset) const;
  uint16_t read16(uint16_t offset) const;
  uint32_t read32(uint16_t offset) const;
  void set8(uint16_t offset, uint8_t value);
  void set16(uint16_t offset, uint16_t value);
  void set32(uint16_t offset, uint32_t value);
  // Marks the bits of `mask` at [offset, offset+mask.size()) guest-writable.
  void set_write_mask(uint16_t offset, std::span<const uint8_t> mask);

  // --- BARs ----------------------------------------------------------------
  // Declares BAR `index` (a 64-bit BAR also claims index+1). Throws
  // std::invalid_argument on a host programming error (bad size/index).
  void declare_bar(int index, const BarSpec& spec);
  // The spec of a BAR that starts at `index` (not the upper half of a 64-bit BAR).
  std::optional<BarSpec> bar_spec(int index) const;
  // Current base address programmed in BAR `index` (flags stripped).
  uint64_t bar_address(int index) const;
  // Host-side placement (firmware role).
  void set_bar_address(int index, uint64_t address);

  // --- Capabilities ----------------------------------------------------------
  // Appends a capability (id, next pointer, then `body`) to the list in the
  // 256-byte space, dword aligned. `body_write_mask` (same length as body or
  // empty) says which body bits the guest may write. Returns its offset;
  // throws std::length_error if the space is full.
  uint8_t add_capability(uint8_t id, std::span<const uint8_t> body, std::span<const uint8_t> body_write_mask = {});

  uint16_t command() const { return read16(0x04); }
  bool io_enabled() const;
  bool memory_enabled() const;
  bool intx_disabled() const;
  // Mirrors the device's INTx state into the status register (bit 3).
  void set_interrupt_status(bool pending);

  // Remembers the current contents as the power-on image that reset() restores.
  void capture_power_on_state();
  void reset();

  // Raw image for save/restore (write masks are not state: they are
  // reconstructed by the device's constructor).
  const std::array<uint8_t, kSize>& bytes() const { return regs_; }
  // Restores the guest-writable bits of `image`; read-only bits keep the
  // values the device constructed. Returns false if `image` has the wrong size.
  [[nodiscard]] bool restore_bytes(std::span<const uint8_t> image);

 private:
  std::array<uint8_t, kSize> regs_{};
  std::array<uint8_t, kSize> write_mask_{};
  std::array<uint8_t, kSize> w1c_mask_{};
  std::array<uint8_t, kSize> power_on_{};
  std::array<std::optional<BarSpec>, kNumBars> bars_{};
  std::array<bool, kNumBars> bar_is_upper_half_{};
  uint8_t next_capability_ = 0x40;
  uint8_t last_capability_ = 0;  // offset of the last capability, 0 if none
};

}  // namespace wren::pci
