#pragma once
// Byte-level writer for one ACPI system description table: the standard
// 36-byte header (OEM "WREN  ") followed by little-endian fields; finish()
// fills in the length and checksum.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace wren {

inline constexpr size_t kAcpiHeaderSize = 36;
inline constexpr size_t kAcpiLengthOffset = 4;
inline constexpr size_t kAcpiChecksumOffset = 9;

class AcpiTableWriter {
 public:
  // `signature` is 4 characters, e.g. "APIC".
  AcpiTableWriter(std::string_view signature, uint8_t revision);

  AcpiTableWriter& u8(uint8_t v) { return le(v, 1); }
  AcpiTableWriter& u16(uint16_t v) { return le(v, 2); }
  AcpiTableWriter& u32(uint32_t v) { return le(v, 4); }
  AcpiTableWriter& u64(uint64_t v) { return le(v, 8); }
  AcpiTableWriter& bytes(std::span<const uint8_t> b);
  AcpiTableWriter& zeros(size_t n);
  // A Generic Address Structure in system I/O space (0 if port is 0).
  AcpiTableWriter& gas_io(uint16_t port, uint8_t bit_width);

  size_t size() const { return data_.size(); }
  std::vector<uint8_t> finish() &&;

 private:
  AcpiTableWriter& le(uint64_t v, size_t width);
  std::vector<uint8_t> data_;
};

}  // namespace wren
