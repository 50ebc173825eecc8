#include "vmm/boot/acpi_table.h"

#include <stdexcept>

#include "vmm/boot/acpi.h"

namespace wren {

namespace {
constexpr std::string_view kOemId = "WREN  ";
constexpr uint32_t kOemRevision = 1;
constexpr std::string_view kCreatorId = "WREN";
constexpr uint32_t kCreatorRevision = 1;
constexpr uint8_t kGasSystemIo = 1;
}  // namespace

AcpiTableWriter::AcpiTableWriter(std::string_view signature, uint8_t revision) {
  if (signature.size() != 4) throw std::invalid_argument("ACPI signatures have 4 characters");
  data_.insert(data_.end(), signature.begin(), signature.end());
  u32(0);  // length, set by finish()
  u8(revision);
  u8(0);  // checksum, set by finish()
  data_.insert(data_.end(), kOemId.begin(), kOemId.end());
  // OEM table id: "WREN" + the signature, so every table's id differs.
  data_.insert(data_.end(), kCreatorId.begin(), kCreatorId.end());
  data_.insert(data_.end(), signature.begin(), signature.end());
  u32(kOemRevision);
  data_.insert(data_.end(), kCreatorId.begin(), kCreatorId.end());
  u32(kCreatorRevision);
}

AcpiTableWriter& AcpiTableWriter::le(uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) data_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}

AcpiTableWriter& AcpiTableWriter::bytes(std::span<const uint8_t> b) {
  data_.insert(data_.end(), b.begin(), b.end());
  return *this;
}

AcpiTableWriter& AcpiTableWriter::zeros(size_t n) {
  data_.insert(data_.end(), n, 0);
  return *this;
}

AcpiTableWriter& AcpiTableWriter::gas_io(uint16_t port, uint8_t bit_width) {
  if (port == 0) return zeros(12);
  u8(kGasSystemIo);
  u8(bit_width);
  u8(0);  // bit offset
  u8(0);  // access size: legacy/undefined
  return u64(port);
}

std::vector<uint8_t> AcpiTableWriter::finish() && {
  const auto len = static_cast<uint32_t>(data_.size());
  for (size_t i = 0; i < 4; ++i) data_[kAcpiLengthOffset + i] = static_cast<uint8_t>(len >> (8 * i));
  data_[kAcpiChecksumOffset] = 0;
  data_[kAcpiChecksumOffset] = acpi_checksum(data_);
  return std::move(data_);
}

}  // namespace wren
