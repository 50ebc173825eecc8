#pragma once
// The fw_cfg "etc/table-loader" command list (QEMU's BIOS linker/loader, as
// executed by SeaBIOS src/fw/romfile_loader.c and OVMF): the firmware copies
// fw_cfg files into memory it allocates, then patches pointers between them
// and recomputes checksums. That lets the VMM build ACPI tables without
// knowing where the firmware will put them: pointer fields hold offsets into
// the target file, and ADD_POINTER adds the file's final address.
//
// Each command is a 128-byte little-endian record: u32 command, then the
// command's fields, zero padded.
#include <cstdint>
#include <string_view>
#include <vector>

namespace wren {

class TableLoader {
 public:
  static constexpr size_t kEntrySize = 128;
  static constexpr size_t kFileNameSize = 56;  // including the NUL

  enum class Command : uint32_t { kAllocate = 1, kAddPointer = 2, kAddChecksum = 3 };
  // Where the firmware may place a file: anywhere in high memory below 4 GiB,
  // or in the 0xF0000 segment (the RSDP must be there for the OS to find it).
  enum class Zone : uint8_t { kHigh = 1, kFSeg = 2 };

  // Each refuses (std::invalid_argument) a file name that does not fit its
  // 56-byte field, a non-power-of-two alignment or a pointer size other
  // than 1, 2, 4 or 8.
  void allocate(std::string_view file, uint32_t align, Zone zone);
  // dest_file[offset .. offset+size) += address of src_file.
  void add_pointer(std::string_view dest_file, std::string_view src_file, uint32_t offset, uint8_t size);
  // file[offset] -= sum of file[start .. start+length): makes that range sum to zero.
  void add_checksum(std::string_view file, uint32_t offset, uint32_t start, uint32_t length);

  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  uint8_t* append(Command command);
  static void check_name(std::string_view name);
  static void put_name(uint8_t* field, std::string_view name);

  std::vector<uint8_t> bytes_;
};

}  // namespace wren
