#include "vmm/boot/aml.h"

#include <stdexcept>
#include <string>

namespace wren::aml {

namespace {

// Opcodes (ACPI 6.x, 20.3).
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kParentPrefixChar = '^';
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kNullName = 0x00;

// Resource descriptors (ACPI 6.x, 6.4).
constexpr uint8_t kSmallIrqNoFlags = 0x22;  // type 0x04, length 2
constexpr uint8_t kSmallIo = 0x47;          // type 0x08, length 7
constexpr uint8_t kSmallEndTag = 0x79;      // type 0x0f, length 1
constexpr uint8_t kLargeMemory32Fixed = 0x86;
constexpr uint8_t kLargeDWordAddress = 0x87;
constexpr uint8_t kLargeWordAddress = 0x88;
constexpr uint8_t kSpaceMemory = 0;
constexpr uint8_t kSpaceIo = 1;
constexpr uint8_t kSpaceBusNumber = 2;
// General flags: bit 3 max fixed, bit 2 min fixed, bit 1 subtractive decode
// (0 = positive), bit 0 consumer (0 = producer, as a bridge window is).
constexpr uint8_t kProducerFixedPosDecode = 0x0c;
constexpr uint8_t kIoEntireRange = 0x03;
constexpr uint8_t kMemNonCacheableReadWrite = 0x01;

void append_le(Bytes& out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

bool valid_lead_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool valid_char(char c) { return valid_lead_char(c) || (c >= '0' && c <= '9'); }

void append_name_seg(Bytes& out, std::string_view seg, std::string_view path) {
  if (seg.empty() || seg.size() > 4 || !valid_lead_char(seg[0]))
    throw std::invalid_argument("invalid AML name segment in '" + std::string(path) + "'");
  for (char c : seg)
    if (!valid_char(c)) throw std::invalid_argument("invalid AML name character in '" + std::string(path) + "'");
  for (size_t i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(i < seg.size() ? seg[i] : '_'));
}

Bytes container(std::initializer_list<uint8_t> opcode, const Bytes& body) {
  Bytes out(opcode);
  append(out, with_pkg_length(body));
  return out;
}

Bytes named_container(std::initializer_list<uint8_t> opcode, std::string_view name, const std::vector<Bytes>& terms) {
  Bytes body = name_string(name);
  for (const auto& t : terms) append(body, t);
  return container(opcode, body);
}

void append_address_header(Bytes& out, uint8_t descriptor, uint16_t length, uint8_t space, uint8_t type_flags) {
  out.push_back(descriptor);
  append_le(out, length, 2);
  out.push_back(space);
  out.push_back(kProducerFixedPosDecode);
  out.push_back(type_flags);
}

}  // namespace

Bytes with_pkg_length(const Bytes& body) {
  // One byte holds up to 63; otherwise bits 7:6 of the lead byte count the
  // following bytes, its bits 3:0 are the low nibble, then 8 bits per byte.
  for (size_t extra = 0; extra <= 3; ++extra) {
    const uint64_t total = body.size() + 1 + extra;
    const uint64_t max = extra == 0 ? 0x3f : (1ull << (4 + 8 * extra)) - 1;
    if (total > max) continue;
    Bytes out;
    if (extra == 0) {
      out.push_back(static_cast<uint8_t>(total));
    } else {
      out.push_back(static_cast<uint8_t>((extra << 6) | (total & 0xf)));
      for (size_t i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
    }
    append(out, body);
    return out;
  }
  throw std::invalid_argument("AML package too large");
}

Bytes name_string(std::string_view path) {
  Bytes out;
  const std::string_view full = path;
  if (!path.empty() && path[0] == kRootChar) {
    out.push_back(kRootChar);
    path.remove_prefix(1);
  } else {
    while (!path.empty() && path[0] == kParentPrefixChar) {
      out.push_back(kParentPrefixChar);
      path.remove_prefix(1);
    }
  }
  std::vector<std::string_view> segs;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    segs.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
    if (path.empty()) throw std::invalid_argument("AML name ends with '.': '" + std::string(full) + "'");
  }
  if (segs.empty()) {
    if (out.empty()) throw std::invalid_argument("empty AML name");
    out.push_back(kNullName);
    return out;
  }
  if (segs.size() > 255) throw std::invalid_argument("AML name too long");
  if (segs.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segs.size() > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segs.size()));
  }
  for (auto seg : segs) append_name_seg(out, seg, full);
  return out;
}

Bytes integer(uint64_t value) {
  Bytes out;
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  if (value <= 0xff) {
    out.push_back(kBytePrefix);
    append_le(out, value, 1);
  } else if (value <= 0xffff) {
    out.push_back(kWordPrefix);
    append_le(out, value, 2);
  } else if (value <= 0xffffffff) {
    out.push_back(kDWordPrefix);
    append_le(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    append_le(out, value, 8);
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    if (c < 0x01 || static_cast<unsigned char>(c) > 0x7f) throw std::invalid_argument("AML strings are ASCII");
    out.push_back(static_cast<uint8_t>(c));
  }
  out.push_back(0);
  return out;
}

uint32_t eisa_id_value(std::string_view id) {
  auto hex_digit = [&](char c) -> uint32_t {
    if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
    if (c >= 'A' && c <= 'F') return static_cast<uint32_t>(c - 'A' + 10);
    throw std::invalid_argument("invalid EISA id '" + std::string(id) + "'");
  };
  if (id.size() != 7) throw std::invalid_argument("invalid EISA id '" + std::string(id) + "'");
  uint32_t vendor = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (id[i] < 'A' || id[i] > 'Z') throw std::invalid_argument("invalid EISA id '" + std::string(id) + "'");
    vendor = (vendor << 5) | static_cast<uint32_t>(id[i] - 'A' + 1);
  }
  uint32_t product = 0;
  for (size_t i = 3; i < 7; ++i) product = (product << 4) | hex_digit(id[i]);
  // Stored big-endian: vendor (15 bits, top bit 0) then product (16 bits).
  const uint32_t big = (vendor << 16) | product;
  return __builtin_bswap32(big);
}

Bytes eisa_id(std::string_view id) {
  Bytes out{kDWordPrefix};
  append_le(out, eisa_id_value(id), 4);
  return out;
}

Bytes name(std::string_view name_path, const Bytes& value) {
  Bytes out{kNameOp};
  append(out, name_string(name_path));
  append(out, value);
  return out;
}

Bytes package(const std::vector<Bytes>& elements) {
  if (elements.size() > 255) throw std::invalid_argument("AML Package of more than 255 elements");
  Bytes body{static_cast<uint8_t>(elements.size())};
  for (const auto& e : elements) append(body, e);
  return container({kPackageOp}, body);
}

Bytes buffer(const Bytes& data) {
  Bytes body = integer(data.size());
  append(body, data);
  return container({kBufferOp}, body);
}

Bytes scope(std::string_view name_path, const std::vector<Bytes>& terms) {
  return named_container({kScopeOp}, name_path, terms);
}

Bytes device(std::string_view name_path, const std::vector<Bytes>& terms) {
  return named_container({kExtOpPrefix, kDeviceOp}, name_path, terms);
}

ResourceTemplate& ResourceTemplate::word_bus_number(uint16_t min, uint16_t max) {
  if (max < min) throw std::invalid_argument("WordBusNumber max < min");
  append_address_header(descriptors_, kLargeWordAddress, 13, kSpaceBusNumber, 0);
  append_le(descriptors_, 0, 2);  // granularity
  append_le(descriptors_, min, 2);
  append_le(descriptors_, max, 2);
  append_le(descriptors_, 0, 2);                        // translation offset
  append_le(descriptors_, uint32_t{max} - min + 1, 2);  // length
  return *this;
}

ResourceTemplate& ResourceTemplate::word_io(uint16_t min, uint16_t max) {
  if (max < min) throw std::invalid_argument("WordIO max < min");
  append_address_header(descriptors_, kLargeWordAddress, 13, kSpaceIo, kIoEntireRange);
  append_le(descriptors_, 0, 2);
  append_le(descriptors_, min, 2);
  append_le(descriptors_, max, 2);
  append_le(descriptors_, 0, 2);
  append_le(descriptors_, uint32_t{max} - min + 1, 2);
  return *this;
}

ResourceTemplate& ResourceTemplate::dword_memory(uint32_t min, uint32_t max) {
  if (max < min || (min == 0 && max == UINT32_MAX)) throw std::invalid_argument("DWordMemory range invalid");
  append_address_header(descriptors_, kLargeDWordAddress, 23, kSpaceMemory, kMemNonCacheableReadWrite);
  append_le(descriptors_, 0, 4);
  append_le(descriptors_, min, 4);
  append_le(descriptors_, max, 4);
  append_le(descriptors_, 0, 4);
  append_le(descriptors_, uint64_t{max} - min + 1, 4);
  return *this;
}

ResourceTemplate& ResourceTemplate::io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  descriptors_.push_back(kSmallIo);
  descriptors_.push_back(0x01);  // decodes 16 address bits
  append_le(descriptors_, min, 2);
  append_le(descriptors_, max, 2);
  descriptors_.push_back(alignment);
  descriptors_.push_back(length);
  return *this;
}

ResourceTemplate& ResourceTemplate::memory32_fixed(bool writable, uint32_t base, uint32_t length) {
  if (length == 0 || base + uint64_t{length} - 1 > UINT32_MAX)
    throw std::invalid_argument("Memory32Fixed range invalid");
  descriptors_.push_back(kLargeMemory32Fixed);
  append_le(descriptors_, 9, 2);  // length of the data that follows
  descriptors_.push_back(writable ? 1 : 0);
  append_le(descriptors_, base, 4);
  append_le(descriptors_, length, 4);
  return *this;
}

ResourceTemplate& ResourceTemplate::irq_no_flags(uint8_t irq) {
  if (irq > 15) throw std::invalid_argument("IRQNoFlags takes ISA IRQs 0..15");
  descriptors_.push_back(kSmallIrqNoFlags);
  append_le(descriptors_, 1u << irq, 2);
  return *this;
}

Bytes ResourceTemplate::build() const {
  Bytes data = descriptors_;
  data.push_back(kSmallEndTag);
  data.push_back(0);  // checksum 0: "the sum is not checked"
  return buffer(data);
}

}  // namespace wren::aml
