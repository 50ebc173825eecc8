#include "devices/pci/config_space.h"

#include <stdexcept>

#include "devices/pci/registers.h"

namespace wren::pci {

namespace {

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

PciConfigSpace::PciConfigSpace(const PciIdentity& id) {
  set16(kVendorId, id.vendor_id);
  set16(kDeviceId, id.device_id);
  set8(kRevisionId, id.revision);
  set8(kClassProgIf, id.class_code & 0xff);
  set8(kClassProgIf + 1, (id.class_code >> 8) & 0xff);
  set8(kClassProgIf + 2, (id.class_code >> 16) & 0xff);
  set8(kHeaderType, 0x00);  // type 0, single function
  set16(kSubsystemVendorId, id.subsystem_vendor_id);
  set16(kSubsystemId, id.subsystem_id);
  set8(kInterruptPin, id.interrupt_pin);

  const uint16_t command_mask =
      kCommandIo | kCommandMemory | kCommandBusMaster | kCommandParity | kCommandSerr | kCommandIntxDisable;
  const uint8_t command_bytes[2] = {static_cast<uint8_t>(command_mask), static_cast<uint8_t>(command_mask >> 8)};
  set_write_mask(kCommand, command_bytes);
  w1c_mask_[kStatus] = kStatusWriteOneToClear & 0xff;
  w1c_mask_[kStatus + 1] = kStatusWriteOneToClear >> 8;
  write_mask_[kCacheLineSize] = 0xff;
  write_mask_[kLatencyTimer] = 0xff;
  write_mask_[kInterruptLine] = 0xff;
  capture_power_on_state();
}

void PciConfigSpace::read(uint64_t offset, std::span<uint8_t> out) const {
  for (size_t i = 0; i < out.size(); ++i) {
    const uint64_t at = offset + i;
    out[i] = at < kSize && at >= offset ? regs_[at] : 0xff;
  }
}

void PciConfigSpace::write(uint64_t offset, std::span<const uint8_t> in) {
  for (size_t i = 0; i < in.size(); ++i) {
    const uint64_t at = offset + i;
    if (at >= kSize || at < offset) break;
    const uint8_t wm = write_mask_[at];
    const uint8_t w1c = w1c_mask_[at];
    uint8_t v = static_cast<uint8_t>((regs_[at] & ~wm) | (in[i] & wm));
    v = static_cast<uint8_t>(v & ~(in[i] & w1c));
    regs_[at] = v;
  }
}

uint8_t PciConfigSpace::read8(uint16_t offset) const { return offset < kSize ? regs_[offset] : 0xff; }

uint16_t PciConfigSpace::read16(uint16_t offset) const {
  return static_cast<uint16_t>(read8(offset) | (read8(offset + 1) << 8));
}

uint32_t PciConfigSpace::read32(uint16_t offset) const {
  return static_cast<uint32_t>(read16(offset)) | (static_cast<uint32_t>(read16(offset + 2)) << 16);
}

void PciConfigSpace::set8(uint16_t offset, uint8_t value) {
  if (offset >= kSize) throw std::out_of_range("pci config offset");
  regs_[offset] = value;
}

void PciConfigSpace::set16(uint16_t offset, uint16_t value) {
  set8(offset, value & 0xff);
  set8(offset + 1, value >> 8);
}

void PciConfigSpace::set32(uint16_t offset, uint32_t value) {
  set16(offset, value & 0xffff);
  set16(offset + 2, value >> 16);
}

void PciConfigSpace::set_write_mask(uint16_t offset, std::span<const uint8_t> mask) {
  if (offset + mask.size() > kSize) throw std::out_of_range("pci write mask");
  for (size_t i = 0; i < mask.size(); ++i) write_mask_[offset + i] = mask[i];
}

void PciConfigSpace::declare_bar(int index, const BarSpec& spec) {
  const int regs = spec.is_64bit() ? 2 : 1;
  if (index < 0 || index + regs > kNumBars) throw std::invalid_argument("BAR index out of range");
  for (int i = index; i < index + regs; ++i)
    if (bars_[i] || bar_is_upper_half_[i]) throw std::invalid_argument("BAR declared twice");
  if (!is_power_of_two(spec.size)) throw std::invalid_argument("BAR size must be a power of two");
  if (spec.is_io() && (spec.size < 4 || spec.size > 256)) throw std::invalid_argument("I/O BAR size");
  if (!spec.is_io() && spec.size < 16) throw std::invalid_argument("memory BAR size");
  if (spec.kind == BarKind::kMemory32 && spec.size > (uint64_t{1} << 31))
    throw std::invalid_argument("32-bit BAR too large");
  if (spec.is_io() && spec.prefetchable) throw std::invalid_argument("I/O BARs are not prefetchable");

  bars_[index] = spec;
  const uint16_t reg = bar_register(index);
  uint32_t flags = 0;
  uint64_t address_mask = 0;
  if (spec.is_io()) {
    flags = kBarIoSpace;
    // All 32 address bits writable, as on QEMU: SeaBIOS sizes I/O BARs over
    // 32 bits and takes a hardwired-zero upper half for a 4 GiB BAR. Only
    // addresses below 64 KiB decode (PciBus).
    address_mask = ~(spec.size - 1) & 0xfffffffc;
  } else {
    flags = (spec.is_64bit() ? kBarMem64 : 0) | (spec.prefetchable ? kBarPrefetchable : 0);
    address_mask = ~(spec.size - 1) & ~uint64_t{kBarMemFlagsMask};
    if (!spec.is_64bit()) address_mask &= 0xffffffff;
  }
  set32(reg, flags);
  const uint32_t lo = static_cast<uint32_t>(address_mask);
  const uint8_t lo_bytes[4] = {static_cast<uint8_t>(lo), static_cast<uint8_t>(lo >> 8), static_cast<uint8_t>(lo >> 16),
                               static_cast<uint8_t>(lo >> 24)};
  set_write_mask(reg, lo_bytes);
  if (spec.is_64bit()) {
    bar_is_upper_half_[index + 1] = true;
    const uint32_t hi = static_cast<uint32_t>(address_mask >> 32);
    const uint8_t hi_bytes[4] = {static_cast<uint8_t>(hi), static_cast<uint8_t>(hi >> 8),
                                 static_cast<uint8_t>(hi >> 16), static_cast<uint8_t>(hi >> 24)};
    set32(reg + 4, 0);
    set_write_mask(reg + 4, hi_bytes);
  }
}

std::optional<BarSpec> PciConfigSpace::bar_spec(int index) const {
  if (index < 0 || index >= kNumBars) return std::nullopt;
  return bars_[index];
}

uint64_t PciConfigSpace::bar_address(int index) const {
  const auto spec = bar_spec(index);
  if (!spec) return 0;
  const uint16_t reg = bar_register(index);
  if (spec->is_io()) return read32(reg) & ~uint32_t{kBarIoFlagsMask};
  uint64_t address = read32(reg) & ~uint32_t{kBarMemFlagsMask};
  if (spec->is_64bit()) address |= static_cast<uint64_t>(read32(reg + 4)) << 32;
  return address;
}

void PciConfigSpace::set_bar_address(int index, uint64_t address) {
  const auto spec = bar_spec(index);
  if (!spec) throw std::invalid_argument("set_bar_address on undeclared BAR");
  if (address & (spec->size - 1)) throw std::invalid_argument("BAR address not aligned to its size");
  const uint16_t reg = bar_register(index);
  const uint32_t flags = read32(reg) & (spec->is_io() ? kBarIoFlagsMask : kBarMemFlagsMask);
  set32(reg, static_cast<uint32_t>(address) | flags);
  if (spec->is_64bit()) set32(reg + 4, static_cast<uint32_t>(address >> 32));
}

uint8_t PciConfigSpace::add_capability(uint8_t id, std::span<const uint8_t> body,
                                       std::span<const uint8_t> body_write_mask) {
  if (!body_write_mask.empty() && body_write_mask.size() != body.size())
    throw std::invalid_argument("capability write mask length");
  const size_t length = 2 + body.size();
  if (next_capability_ == 0 || next_capability_ + length > kLegacySize)
    throw std::length_error("PCI capability space full");
  const uint8_t at = next_capability_;
  set8(at, id);
  set8(at + 1, 0);
  for (size_t i = 0; i < body.size(); ++i) set8(static_cast<uint16_t>(at + 2 + i), body[i]);
  if (!body_write_mask.empty()) set_write_mask(static_cast<uint16_t>(at + 2), body_write_mask);
  if (last_capability_ == 0) {
    set8(kCapabilitiesPointer, at);
    set16(kStatus, read16(kStatus) | kStatusCapList);
  } else {
    set8(last_capability_ + 1, at);
  }
  last_capability_ = at;
  const size_t next = (at + length + 3) & ~size_t{3};
  next_capability_ = next >= kLegacySize ? 0 : static_cast<uint8_t>(next);
  return at;
}

bool PciConfigSpace::io_enabled() const { return command() & kCommandIo; }
bool PciConfigSpace::memory_enabled() const { return command() & kCommandMemory; }
bool PciConfigSpace::intx_disabled() const { return command() & kCommandIntxDisable; }

void PciConfigSpace::set_interrupt_status(bool pending) {
  const uint16_t status = read16(kStatus);
  set16(kStatus, pending ? (status | kStatusInterrupt) : (status & ~kStatusInterrupt));
}

void PciConfigSpace::capture_power_on_state() { power_on_ = regs_; }

void PciConfigSpace::reset() { regs_ = power_on_; }

bool PciConfigSpace::restore_bytes(std::span<const uint8_t> image) {
  if (image.size() != kSize) return false;
  for (size_t i = 0; i < kSize; ++i) {
    const uint8_t guest_owned = write_mask_[i] | w1c_mask_[i];
    regs_[i] = static_cast<uint8_t>((regs_[i] & ~guest_owned) | (image[i] & guest_owned));
  }
  // The interrupt status bit is device state, restored by the device itself.
  return true;
}

}  // namespace wren::pci
