#pragma once
// QEMU-compatible firmware configuration device (fw_cfg), the channel through
// which SeaBIOS (and OVMF, and guest kernels) learn what the VMM built: the
// memory map, ACPI tables, CPU count, a kernel to boot. Port layout as on a
// QEMU PC (QEMU docs/specs/fw_cfg.rst):
//
//   base + 0  selector, 16-bit little-endian write (resets the data offset)
//   base + 1  data, 8-bit reads return the next byte of the selected item
//   base + 4  DMA address, 64-bit big-endian; a 32-bit write of the high
//             half at +4 then of the low half at +8 (or the low half alone)
//             starts a transfer described by a FWCfgDmaAccess in guest RAM
//
// Reads past the end of an item, or of an unknown selector, return zeros.
// Items are read-only: data-port writes are ignored and DMA writes fail with
// the error bit, as QEMU does for items it did not mark writable. The device
// generates the signature, ID and file directory items itself; everything
// else is set up by the machine before the guest runs. Files get selectors
// from kFileFirst in name order, so the directory is sorted.
//
// DMA transfers copy through GuestMemory's checked accessors: if the access
// structure or any byte of the target range lies outside guest RAM, the
// transfer stops with the error bit set and no guest byte is written beyond
// the control field (when that is in RAM).
//
// Threading: one mutex guards the selector, offset and DMA address; item data
// is immutable once the guest runs.
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/io_bus.h"

namespace wren {

// Selector keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h and
// hw/nvram/fw_cfg_keys.h).
namespace fw_cfg {
inline constexpr uint16_t kSignature = 0x00;
inline constexpr uint16_t kId = 0x01;
inline constexpr uint16_t kRamSize = 0x03;
inline constexpr uint16_t kNbCpus = 0x05;
inline constexpr uint16_t kKernelAddr = 0x07;
inline constexpr uint16_t kKernelSize = 0x08;
inline constexpr uint16_t kInitrdAddr = 0x0a;
inline constexpr uint16_t kInitrdSize = 0x0b;
inline constexpr uint16_t kMaxCpus = 0x0f;
inline constexpr uint16_t kKernelData = 0x11;
inline constexpr uint16_t kInitrdData = 0x12;
inline constexpr uint16_t kCmdlineAddr = 0x13;
inline constexpr uint16_t kCmdlineSize = 0x14;
inline constexpr uint16_t kCmdlineData = 0x15;
inline constexpr uint16_t kSetupAddr = 0x16;
inline constexpr uint16_t kSetupSize = 0x17;
inline constexpr uint16_t kSetupData = 0x18;
inline constexpr uint16_t kFileDir = 0x19;
inline constexpr uint16_t kFileFirst = 0x20;
inline constexpr uint16_t kArchLocal = 0x8000;
inline constexpr uint16_t kIrq0Override = kArchLocal + 2;  // x86

inline constexpr uint32_t kIdTraditional = 1u << 0;
inline constexpr uint32_t kIdDma = 1u << 1;

// FWCfgDmaAccess.control bits.
inline constexpr uint32_t kDmaError = 1u << 0;
inline constexpr uint32_t kDmaRead = 1u << 1;
inline constexpr uint32_t kDmaSkip = 1u << 2;
inline constexpr uint32_t kDmaSelect = 1u << 3;
inline constexpr uint32_t kDmaWrite = 1u << 4;

inline constexpr size_t kDmaAccessSize = 16;  // control, length (be32), address (be64)
inline constexpr size_t kFileNameMax = 55;    // 56-byte name field, NUL-terminated
inline constexpr size_t kFileEntrySize = 64;
}  // namespace fw_cfg

class FwCfg final : public BusDevice {
 public:
  static constexpr uint16_t kPortBase = 0x510;
  static constexpr uint64_t kLength = 12;  // 0x510..0x51b
  static constexpr uint64_t kSelectorOffset = 0;
  static constexpr uint64_t kDataOffset = 1;
  static constexpr uint64_t kDmaOffset = 4;

  // `memory` must outlive the device (DMA target).
  explicit FwCfg(GuestMemory& memory);

  // Setup, before the guest runs. set_item refuses (std::invalid_argument)
  // the generated keys and the file range; add_file refuses an empty name,
  // one longer than fw_cfg::kFileNameMax, a duplicate, or a full directory.
  void set_item(uint16_t key, std::vector<uint8_t> data);
  void add_file(std::string_view name, std::vector<uint8_t> data);

  // The selector of a file (directory order), or 0 if there is none. Setup
  // and tests only (reads the directory without the lock).
  uint16_t file_selector(std::string_view name) const;

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  const std::vector<uint8_t>* item(uint16_t key) const;  // nullptr: no such item
  void select(uint16_t key);
  void rebuild_file_directory();
  void dma_transfer(uint64_t access_gpa);

  GuestMemory& memory_;
  std::map<uint16_t, std::vector<uint8_t>> items_;                  // key (with kArchLocal) -> bytes
  std::map<std::string, std::vector<uint8_t>, std::less<>> files_;  // name order = selector order

  std::mutex mutex_;
  uint16_t selector_ = fw_cfg::kSignature;
  uint64_t offset_ = 0;
  uint64_t dma_address_ = 0;
};

}  // namespace wren
