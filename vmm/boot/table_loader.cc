#include "vmm/boot/table_loader.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace wren {

namespace {
// Field offsets inside an entry (after the 4-byte command).
constexpr size_t kFirstName = 4;
constexpr size_t kSecondName = kFirstName + TableLoader::kFileNameSize;
constexpr size_t kAllocAlign = kSecondName;
constexpr size_t kAllocZone = kAllocAlign + 4;
constexpr size_t kPointerOffset = kSecondName + TableLoader::kFileNameSize;
constexpr size_t kPointerSize = kPointerOffset + 4;
constexpr size_t kChecksumOffset = kSecondName;
constexpr size_t kChecksumStart = kChecksumOffset + 4;
constexpr size_t kChecksumLength = kChecksumStart + 4;

void put_u32(uint8_t* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(v >> (8 * i));
}
}  // namespace

uint8_t* TableLoader::append(Command command) {
  const size_t at = bytes_.size();
  bytes_.resize(at + kEntrySize, 0);
  put_u32(&bytes_[at], static_cast<uint32_t>(command));
  return &bytes_[at];
}

void TableLoader::check_name(std::string_view name) {
  if (name.empty() || name.size() >= kFileNameSize || name.find('\0') != std::string_view::npos)
    throw std::invalid_argument("table-loader: file name '" + std::string(name) + "' does not fit");
}

void TableLoader::put_name(uint8_t* field, std::string_view name) { std::memcpy(field, name.data(), name.size()); }

void TableLoader::allocate(std::string_view file, uint32_t align, Zone zone) {
  check_name(file);
  if (align == 0 || (align & (align - 1)))
    throw std::invalid_argument("table-loader: alignment must be a power of two");
  uint8_t* e = append(Command::kAllocate);
  put_name(e + kFirstName, file);
  put_u32(e + kAllocAlign, align);
  e[kAllocZone] = static_cast<uint8_t>(zone);
}

void TableLoader::add_pointer(std::string_view dest_file, std::string_view src_file, uint32_t offset, uint8_t size) {
  if (size != 1 && size != 2 && size != 4 && size != 8)
    throw std::invalid_argument("table-loader: pointer size must be 1, 2, 4 or 8");
  check_name(dest_file);
  check_name(src_file);
  uint8_t* e = append(Command::kAddPointer);
  put_name(e + kFirstName, dest_file);
  put_name(e + kSecondName, src_file);
  put_u32(e + kPointerOffset, offset);
  e[kPointerSize] = size;
}

void TableLoader::add_checksum(std::string_view file, uint32_t offset, uint32_t start, uint32_t length) {
  check_name(file);
  uint8_t* e = append(Command::kAddChecksum);
  put_name(e + kFirstName, file);
  put_u32(e + kChecksumOffset, offset);
  put_u32(e + kChecksumStart, start);
  put_u32(e + kChecksumLength, length);
}

}  // namespace wren
