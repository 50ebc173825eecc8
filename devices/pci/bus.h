#pragma once
// PCI bus 0: slots, BAR placement, BAR decoding on the MMIO/PIO buses, and
// config-space routing (used by the 0xCF8/0xCFC port and by ECAM).
//
// Placement happens once, when a device is added: every BAR gets a
// size-aligned address inside layout::kPciMmio32Start..End (memory BARs,
// 64-bit ones too) or layout::kPciIoStart..End (I/O BARs), and memory/I/O
// decode is switched on, as firmware would leave it. After that the guest
// owns the registers: whenever a config write touches COMMAND or a BAR, the
// bus re-derives where each BAR should decode and moves its region on the
// IoBus (removing it while decode is off or the address is unusable, e.g.
// during BAR sizing).
//
// Only function 0 of each slot exists; other functions, other buses and
// empty slots read as all-ones.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "devices/pci/bar_allocator.h"
#include "devices/pci/device.h"
#include "devices/pci/intx.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/irq.h"

namespace wren::pci {

class PciBus {
 public:
  static constexpr uint8_t kSlots = 32;

  // `intx_lines[i]` drives GSI layout::kPciIntxFirstGsi + i (null: dropped).
  // `mmio` and `pio` must outlive the bus. Adds the host bridge at 00:00.0.
  PciBus(IoBus& mmio, IoBus& pio, std::array<IrqLine*, 4> intx_lines = {});
  ~PciBus();
  PciBus(const PciBus&) = delete;
  PciBus& operator=(const PciBus&) = delete;

  // Puts `device` in the lowest free slot (or `slot`), places and maps its
  // BARs, wires its INTx pin. Returns the slot. Throws std::runtime_error if
  // there is no free slot or no room for its BARs (host configuration error).
  uint8_t add_device(std::shared_ptr<PciDevice> device, std::optional<uint8_t> slot = std::nullopt);

  // Config access for bus/slot/function; `out.size()` 1..4 and
  // offset + size <= 4096 (callers clip). Absent functions read all-ones.
  void config_read(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset, std::span<uint8_t> out);
  void config_write(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset, std::span<const uint8_t> in);

  // Machine reset: resets every device and re-places its BARs.
  void reset();
  // Re-derives every BAR mapping from config space (after devices restored
  // their config space from a snapshot).
  void refresh_mappings();

  std::shared_ptr<PciDevice> device(uint8_t slot) const;
  // Where BAR `bar` of `slot` decodes right now (nullopt: not mapped).
  std::optional<uint64_t> bar_mapping(uint8_t slot, int bar) const;

 private:
  struct Slot {
    std::shared_ptr<PciDevice> device;
    std::array<uint64_t, kNumBars> placed{};  // firmware placement, for reset
    std::array<std::optional<uint64_t>, kNumBars> mapped{};
  };
  uint32_t read_config32(PciDevice& device, uint16_t offset);
  void write_config32(PciDevice& device, uint16_t offset, uint32_t value);
  void program_placement(Slot& slot);
  void update_mappings(Slot& slot);
  void unmap_all(Slot& slot);

  IoBus& mmio_;
  IoBus& pio_;
  std::array<std::shared_ptr<SharedIntxLine>, 4> intx_;
  BarAllocator mmio_allocator_;
  BarAllocator io_allocator_;

  mutable std::mutex mutex_;
  std::array<Slot, kSlots> slots_{};
};

}  // namespace wren::pci
