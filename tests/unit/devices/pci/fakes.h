#pragma once
// Test doubles for the PCI unit tests.
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "devices/pci/config_space.h"
#include "devices/pci/device.h"
#include "devices/pci/msi_vector_sink.h"
#include "devices/pci/registers.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/irq.h"

namespace wren::pci::testing {

class FakeIrqLine : public IrqLine {
 public:
  void set_level(bool high) override {
    level = high;
    ++changes;
  }
  bool level = false;
  int changes = 0;
};

class FakeMsiSink : public MsiSink {
 public:
  void send(uint64_t address, uint32_t data) override { sent.emplace_back(address, data); }
  std::vector<std::pair<uint64_t, uint32_t>> sent;
};

// A region that answers reads with a byte naming its BAR and records writes.
class MarkerRegion : public BusDevice {
 public:
  explicit MarkerRegion(uint8_t marker) : marker_(marker) {}
  void read(uint64_t, std::span<uint8_t> data) override {
    for (auto& b : data) b = marker_;
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    writes.emplace_back(offset, std::vector<uint8_t>(data.begin(), data.end()));
  }
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;

 private:
  uint8_t marker_;
};

// BAR0 I/O 32 bytes, BAR1 32-bit memory 4 KiB, BAR2/3 64-bit memory 16 KiB, INTA.
class FakePciDevice : public PciDevice {
 public:
  FakePciDevice()
      : config_(PciIdentity{.vendor_id = 0x1234, .device_id = 0x5678, .class_code = 0xff0000, .interrupt_pin = 1}) {
    config_.declare_bar(0, BarSpec{BarKind::kIo, 0x20, false});
    config_.declare_bar(1, BarSpec{BarKind::kMemory32, 0x1000, false});
    config_.declare_bar(2, BarSpec{BarKind::kMemory64, 0x4000, false});
    config_.capture_power_on_state();
    for (int i = 0; i < 3; ++i) regions_[i] = std::make_shared<MarkerRegion>(static_cast<uint8_t>(0xa0 + i));
  }
  std::string name() const override { return "fake"; }
  void config_read(uint16_t offset, std::span<uint8_t> out) override { config_.read(offset, out); }
  void config_write(uint16_t offset, std::span<const uint8_t> in) override { config_.write(offset, in); }
  std::optional<BarSpec> bar_spec(int index) const override { return config_.bar_spec(index); }
  std::shared_ptr<BusDevice> bar_region(int index) override {
    auto it = regions_.find(index);
    return it == regions_.end() ? nullptr : it->second;
  }
  void bar_mapped(int index, uint64_t address) override { events.emplace_back(index, address, true); }
  void bar_unmapped(int index, uint64_t address) override { events.emplace_back(index, address, false); }
  void attach_intx(std::shared_ptr<IrqLine> line) override { intx = std::move(line); }
  void reset() override {
    ++resets;
    config_.reset();
  }

  PciConfigSpace& config() { return config_; }
  std::shared_ptr<MarkerRegion> region(int i) { return regions_.at(i); }

  std::vector<std::tuple<int, uint64_t, bool>> events;
  std::shared_ptr<IrqLine> intx;
  int resets = 0;

 private:
  PciConfigSpace config_;
  std::map<int, std::shared_ptr<MarkerRegion>> regions_;
};

}  // namespace wren::pci::testing
