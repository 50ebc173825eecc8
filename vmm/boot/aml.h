#pragma once
// A minimal ACPI Machine Language (AML) encoder: just the objects Wren's DSDT
// needs (ACPI 6.x, section 20 "ACPI Machine Language Specification" and 6.4
// "Resource Data Types"). Each function returns the encoded bytes of one term;
// containers take already-encoded children. Malformed names or oversized
// containers are programming errors and throw std::invalid_argument.
#include <cstdint>
#include <string_view>
#include <vector>

namespace wren::aml {

using Bytes = std::vector<uint8_t>;

// PkgLength-prefixed `body` (the encoded length counts its own bytes).
Bytes with_pkg_length(const Bytes& body);

// "\\_SB_.PCI0", "_HID", "^COM1", "_S5" (segments shorter than 4 are
// padded with '_').
Bytes name_string(std::string_view path);

// The shortest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix.
Bytes integer(uint64_t value);
// StringPrefix, ASCII 0x01..0x7f, NUL.
Bytes string(std::string_view text);
// A compressed EISA id such as "PNP0A03", as the DWord integer ASL's EisaId() makes.
Bytes eisa_id(std::string_view id);
uint32_t eisa_id_value(std::string_view id);

// Name(name, value)
Bytes name(std::string_view name, const Bytes& value);
// Package(n) { elements } (at most 255 elements)
Bytes package(const std::vector<Bytes>& elements);
// Buffer() { data }
Bytes buffer(const Bytes& data);
// Scope(name) { terms } and Device(name) { terms }
Bytes scope(std::string_view name, const std::vector<Bytes>& terms);
Bytes device(std::string_view name, const std::vector<Bytes>& terms);

// ResourceTemplate() { ... }: descriptors are appended, build() adds the end
// tag and wraps everything in a Buffer.
class ResourceTemplate {
 public:
  // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)
  ResourceTemplate& word_bus_number(uint16_t min, uint16_t max);
  // WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...)
  ResourceTemplate& word_io(uint16_t min, uint16_t max);
  // DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...)
  ResourceTemplate& dword_memory(uint32_t min, uint32_t max);
  // IO(Decode16, min, max, alignment, length)
  ResourceTemplate& io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
  // Memory32Fixed(ReadWrite or ReadOnly, base, length)
  ResourceTemplate& memory32_fixed(bool writable, uint32_t base, uint32_t length);
  // IRQNoFlags() { irq }: edge triggered, active high, exclusive
  ResourceTemplate& irq_no_flags(uint8_t irq);

  Bytes build() const;

 private:
  Bytes descriptors_;
};

}  // namespace wren::aml
