#include "devices/pci/bus.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "devices/pci/host_bridge.h"
#include "devices/pci/registers.h"
#include "hypervisor/layout.h"
#include "hypervisor/little_endian.h"

namespace wren::pci {

namespace {

bool overlaps(uint16_t offset, size_t len, uint16_t start, uint16_t end) {
  return offset < end && offset + len > start;
}

}  // namespace

PciBus::PciBus(IoBus& mmio, IoBus& pio, std::array<IrqLine*, 4> intx_lines)
    : mmio_(mmio),
      pio_(pio),
      mmio_allocator_(layout::kPciMmio32Start, layout::kPciMmio32End),
      io_allocator_(layout::kPciIoStart, uint64_t{layout::kPciIoEnd} + 1) {
  for (size_t i = 0; i < intx_.size(); ++i) intx_[i] = std::make_shared<SharedIntxLine>(intx_lines[i]);
  add_device(std::make_shared<PciHostBridge>(), 0);
}

PciBus::~PciBus() {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_)
    if (slot.device) unmap_all(slot);
}

uint32_t PciBus::read_config32(PciDevice& device, uint16_t offset) {
  uint8_t bytes[4];
  device.config_read(offset, bytes);
  return static_cast<uint32_t>(load_le(bytes));
}

void PciBus::write_config32(PciDevice& device, uint16_t offset, uint32_t value) {
  uint8_t bytes[4];
  store_le(bytes, value);
  device.config_write(offset, bytes);
}

uint8_t PciBus::add_device(std::shared_ptr<PciDevice> device, std::optional<uint8_t> wanted) {
  if (!device) throw std::invalid_argument("null PCI device");
  std::lock_guard lock(mutex_);
  uint8_t index = 0;
  if (wanted) {
    if (*wanted >= kSlots || slots_[*wanted].device) throw std::runtime_error("PCI slot unavailable");
    index = *wanted;
  } else {
    while (index < kSlots && slots_[index].device) ++index;
    if (index == kSlots) throw std::runtime_error("PCI bus 0 is full");
  }
  Slot& slot = slots_[index];

  // Largest first, so natural alignment wastes the least of the window.
  std::vector<int> order;
  for (int i = 0; i < kNumBars; ++i)
    if (device->bar_spec(i)) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return device->bar_spec(a)->size > device->bar_spec(b)->size; });
  for (int i : order) {
    const BarSpec spec = *device->bar_spec(i);
    const auto base = spec.is_io() ? io_allocator_.allocate(spec.size) : mmio_allocator_.allocate(spec.size);
    if (!base) throw std::runtime_error("no room for BAR " + std::to_string(i) + " of " + device->name());
    slot.placed[i] = *base;
  }

  slot.device = std::move(device);
  uint8_t pin = 0;
  slot.device->config_read(kInterruptPin, std::span(&pin, 1));
  if (pin >= kPinIntA && pin <= 4) {
    const uint32_t gsi = intx_gsi(index, pin);
    slot.device->attach_intx(intx_[gsi - layout::kPciIntxFirstGsi]->make_source());
    const uint8_t line = static_cast<uint8_t>(gsi);
    slot.device->config_write(kInterruptLine, std::span(&line, 1));
  }
  program_placement(slot);
  return index;
}

void PciBus::program_placement(Slot& slot) {
  PciDevice& dev = *slot.device;
  uint16_t command = 0;
  for (int i = 0; i < kNumBars; ++i) {
    const auto spec = dev.bar_spec(i);
    if (!spec) continue;
    const uint32_t flags = read_config32(dev, bar_register(i)) & (spec->is_io() ? kBarIoFlagsMask : kBarMemFlagsMask);
    write_config32(dev, bar_register(i), static_cast<uint32_t>(slot.placed[i]) | flags);
    if (spec->is_64bit()) write_config32(dev, bar_register(i) + 4, static_cast<uint32_t>(slot.placed[i] >> 32));
    command |= spec->is_io() ? kCommandIo : kCommandMemory;
  }
  if (command) {
    uint8_t bytes[2];
    dev.config_read(kCommand, bytes);
    command |= static_cast<uint16_t>(load_le(bytes));
    store_le(bytes, command);
    dev.config_write(kCommand, bytes);
  }
  update_mappings(slot);
}

void PciBus::update_mappings(Slot& slot) {
  PciDevice& dev = *slot.device;
  uint8_t command_bytes[2];
  dev.config_read(kCommand, command_bytes);
  const uint16_t command = static_cast<uint16_t>(load_le(command_bytes));
  for (int i = 0; i < kNumBars; ++i) {
    const auto spec = dev.bar_spec(i);
    if (!spec) continue;
    const uint32_t lo = read_config32(dev, bar_register(i));
    uint64_t address = lo & ~(spec->is_io() ? kBarIoFlagsMask : kBarMemFlagsMask);
    if (spec->is_64bit()) address |= static_cast<uint64_t>(read_config32(dev, bar_register(i) + 4)) << 32;

    // Where it should decode: decode enabled, a real address, no wrap, and
    // (for I/O) inside the 64 KiB port space.
    std::optional<uint64_t> want;
    const bool decode = command & (spec->is_io() ? kCommandIo : kCommandMemory);
    uint64_t end = 0;
    const bool fits = !__builtin_add_overflow(address, spec->size, &end) && (!spec->is_io() || end <= 0x10000);
    if (decode && address != 0 && fits) want = address;
    if (want == slot.mapped[i]) continue;

    IoBus& bus = spec->is_io() ? pio_ : mmio_;
    if (slot.mapped[i]) {
      dev.bar_unmapped(i, *slot.mapped[i]);
      bus.remove(*slot.mapped[i]);
      slot.mapped[i].reset();
    }
    if (!want) continue;
    auto region = dev.bar_region(i);
    if (!region) continue;
    if (!bus.insert(*want, spec->size, region)) {
      // The guest placed the BAR over something else: leave it undecoded
      // (like a real conflict, accesses then go nowhere).
      spdlog::debug("pci: {} BAR{} at {:#x} overlaps another region; not decoded", dev.name(), i, *want);
      continue;
    }
    slot.mapped[i] = want;
    dev.bar_mapped(i, *want);
  }
}

void PciBus::unmap_all(Slot& slot) {
  for (int i = 0; i < kNumBars; ++i) {
    if (!slot.mapped[i]) continue;
    const auto spec = slot.device->bar_spec(i);
    slot.device->bar_unmapped(i, *slot.mapped[i]);
    (spec && spec->is_io() ? pio_ : mmio_).remove(*slot.mapped[i]);
    slot.mapped[i].reset();
  }
}

void PciBus::config_read(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset, std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), 0xff);
  if (bus != 0 || slot >= kSlots || function != 0 || out.empty() || out.size() > 4 || offset + out.size() > 4096)
    return;
  std::lock_guard lock(mutex_);
  if (slots_[slot].device) slots_[slot].device->config_read(offset, out);
}

void PciBus::config_write(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset, std::span<const uint8_t> in) {
  if (bus != 0 || slot >= kSlots || function != 0 || in.empty() || in.size() > 4 || offset + in.size() > 4096) return;
  std::lock_guard lock(mutex_);
  Slot& s = slots_[slot];
  if (!s.device) return;
  s.device->config_write(offset, in);
  if (overlaps(offset, in.size(), kCommand, kCommand + 2) || overlaps(offset, in.size(), kBar0, kBarEnd))
    update_mappings(s);
}

void PciBus::reset() {
  std::lock_guard lock(mutex_);
  for (uint8_t i = 0; i < kSlots; ++i) {
    Slot& slot = slots_[i];
    if (!slot.device) continue;
    unmap_all(slot);
    slot.device->reset();
    uint8_t pin = 0;
    slot.device->config_read(kInterruptPin, std::span(&pin, 1));
    if (pin >= kPinIntA && pin <= 4) {
      const uint8_t line = static_cast<uint8_t>(intx_gsi(i, pin));
      slot.device->config_write(kInterruptLine, std::span(&line, 1));
    }
    program_placement(slot);
  }
}

void PciBus::refresh_mappings() {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_)
    if (slot.device) update_mappings(slot);
}

std::shared_ptr<PciDevice> PciBus::device(uint8_t slot) const {
  std::lock_guard lock(mutex_);
  return slot < kSlots ? slots_[slot].device : nullptr;
}

std::optional<uint64_t> PciBus::bar_mapping(uint8_t slot, int bar) const {
  std::lock_guard lock(mutex_);
  if (slot >= kSlots || bar < 0 || bar >= kNumBars) return std::nullopt;
  return slots_[slot].mapped[bar];
}

}  // namespace wren::pci
