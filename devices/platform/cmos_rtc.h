#pragma once
// CMOS RAM and MC146818-style real-time clock at ports 0x70 (index) and 0x71
// (data). The clock reads the host's UTC time (plus an offset the guest can
// set), never reports an update in progress and raises no interrupts. The
// memory-size bytes that firmware and old kernels read are filled from the
// RAM layout at construction.
//
// Setting the time: with register B's SET bit on, the time registers become
// plain storage (a snapshot taken when SET went on) that the guest rewrites
// field by field; clearing SET decodes them and stores the difference to the
// host clock as an offset. A time write without SET applies at once. Fields
// that do not form a valid date are ignored (the offset is left unchanged).
//
// Threading: one mutex guards all state; no callbacks.
#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <span>

#include "hypervisor/io_bus.h"

namespace wren {

class CmosRtc final : public BusDevice {
 public:
  using Clock = std::function<std::time_t()>;  // seconds since the epoch, UTC

  static constexpr uint64_t kLength = 2;  // index at +0, data at +1
  static constexpr size_t kSize = 128;
  // Bound on the guest-set clock offset (about 200 years), so time arithmetic
  // cannot overflow whatever a guest or a restored state holds.
  static constexpr int64_t kMaxOffsetSeconds = int64_t{200} * 366 * 86400;

  struct State {
    std::array<uint8_t, kSize> bytes{};  // time registers hold the SET snapshot
    uint8_t index = 0;                   // 0..127
    bool nmi_masked = false;             // index port bit 7: recorded, no effect
    int64_t clock_offset_seconds = 0;
  };

  // `low_ram_bytes`: RAM from 0 up to the PCI hole; `high_ram_bytes`: RAM
  // from 4 GiB up. `clock` defaults to the host's time().
  CmosRtc(uint64_t low_ram_bytes, uint64_t high_ram_bytes, Clock clock = {});

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Machine setup: preset a CMOS byte (e.g. for firmware) before the guest
  // runs. Time and status registers (0x00-0x0d) are not settable this way.
  void set_byte(uint8_t index, uint8_t value);

  State save() const;
  // Refuses an index >= 128, UIP set in register A, a nonzero register C,
  // register D other than VRT, or an out-of-range offset.
  [[nodiscard]] bool restore(const State& state);
  [[nodiscard]] static bool valid(const State& state);

 private:
  uint8_t read_data_locked();
  void write_data_locked(uint8_t value);
  bool set_mode_locked() const;
  std::time_t now_locked() const;
  // Encodes `t` into the time registers per register B's format.
  void encode_time_locked(std::time_t t);
  // Decodes the time registers; false if they do not form a valid date.
  bool decode_time_locked(std::time_t& out) const;
  void commit_time_locked();

  const Clock clock_;
  mutable std::mutex mutex_;
  std::array<uint8_t, kSize> bytes_{};
  uint8_t index_ = 0;
  bool nmi_masked_ = false;
  int64_t offset_ = 0;
};

}  // namespace wren
