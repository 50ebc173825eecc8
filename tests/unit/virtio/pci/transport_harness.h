#pragma once
// Shared pieces of the virtio-pci transport tests: a tiny two-queue test
// device, fake interrupt sinks, and a driver-side view of a VirtioPciDevice's
// BARs and config space.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "devices/pci/msi_vector_sink.h"
#include "devices/pci/registers.h"
#include "hypervisor/guest_memory.h"
#include "hypervisor/irq.h"
#include "hypervisor/little_endian.h"
#include "virtio/device.h"
#include "virtio/pci/ids.h"
#include "virtio/pci/virtio_pci_device.h"

namespace wren::testing {

// Type 4 (entropy source): it has a transitional id, so both modes work.
class NullDevice : public VirtioDevice {
 public:
  static constexpr uint64_t kFeatureA = uint64_t{1} << 0;
  static constexpr uint64_t kFeatureB = uint64_t{1} << 3;
  static constexpr uint64_t kOffered = kVirtioFVersion1 | kVirtioFRingEventIdx | kFeatureA | kFeatureB;

  std::string name() const override { return "null"; }
  uint32_t device_type() const override { return 4; }
  uint64_t device_features() const override { return kOffered; }
  bool accept_features(uint64_t f) const override { return !refuse_feature_b || !(f & kFeatureB); }
  uint16_t num_queues() const override { return 2; }
  uint16_t queue_max_size(uint16_t index) const override { return index == 0 ? 16 : 8; }
  uint32_t config_size() const override { return static_cast<uint32_t>(config.size()); }
  void read_config(uint32_t offset, std::span<uint8_t> out) override {
    for (size_t i = 0; i < out.size(); ++i) out[i] = config.at(offset + i);  // .at(): the transport must clip
  }
  void write_config(uint32_t offset, std::span<const uint8_t> in) override {
    for (size_t i = 0; i < in.size(); ++i) config.at(offset + i) = in[i];
    config_writes++;
  }
  bool activate(const ActivationContext& context) override {
    ++activations;
    features = context.features;
    legacy = context.legacy();
    queues = context.queues;
    return activate_result;
  }
  void reset() override {
    ++resets;
    queues = {};
  }
  void queue_notify(uint16_t index) override { kicks.push_back(index); }

  using VirtioDevice::set_needs_reset;
  using VirtioDevice::signal_config_changed;
  using VirtioDevice::signal_used;

  std::vector<uint8_t> config = {1, 2, 3, 4, 5, 6, 7, 8};
  int config_writes = 0;
  bool refuse_feature_b = false;
  bool activate_result = true;
  int activations = 0;
  int resets = 0;
  uint64_t features = 0;
  bool legacy = false;
  std::span<Queue> queues;
  std::vector<uint16_t> kicks;
};

class FakeIrqLine : public IrqLine {
 public:
  void set_level(bool high) override { level = high; }
  bool level = false;
};

class FakeMsiSink : public MsiSink {
 public:
  void send(uint64_t address, uint32_t data) override { sent.emplace_back(address, data); }
  std::vector<std::pair<uint64_t, uint32_t>> sent;
};

// The driver's view: BAR and config accesses of a given width.
class TransportHarness {
 public:
  explicit TransportHarness(VirtioPciMode mode, std::shared_ptr<NotifyWiring> wiring = nullptr)
      : memory({{0, 1 << 20}}),
        device(std::make_shared<NullDevice>()),
        msi_sink(std::make_shared<pci::DirectMsiVectorSink>(msi)),
        pci(VirtioPciDevice::create(device, mode, memory, msi_sink, std::move(wiring))),
        intx(std::make_shared<FakeIrqLine>()) {
    pci->attach_intx(intx);
  }

  uint64_t bar_read(int bar, uint64_t offset, size_t width) {
    uint8_t b[8] = {};
    pci->bar_read(bar, offset, std::span(b, width));
    return load_le(std::span<const uint8_t>(b, width));
  }
  void bar_write(int bar, uint64_t offset, size_t width, uint64_t value) {
    uint8_t b[8] = {};
    store_le(std::span(b, width), value);
    pci->bar_write(bar, offset, std::span<const uint8_t>(b, width));
  }
  uint64_t common_read(uint64_t offset, size_t width) { return bar_read(VirtioPciDevice::kModernBar, offset, width); }
  void common_write(uint64_t offset, size_t width, uint64_t value) {
    bar_write(VirtioPciDevice::kModernBar, offset, width, value);
  }
  uint64_t legacy_read(uint64_t offset, size_t width) { return bar_read(VirtioPciDevice::kLegacyBar, offset, width); }
  void legacy_write(uint64_t offset, size_t width, uint64_t value) {
    bar_write(VirtioPciDevice::kLegacyBar, offset, width, value);
  }

  uint32_t config_read(uint16_t offset, size_t width) {
    uint8_t b[4] = {};
    pci->config_read(offset, std::span(b, width));
    return static_cast<uint32_t>(load_le(std::span<const uint8_t>(b, width)));
  }
  void config_write(uint16_t offset, size_t width, uint32_t value) {
    uint8_t b[4] = {};
    store_le(std::span(b, width), value);
    pci->config_write(offset, std::span<const uint8_t>(b, width));
  }
  // Offset of the first capability with this id (and, for vendor caps, cfg_type).
  std::optional<uint8_t> find_cap(uint8_t id, std::optional<uint8_t> cfg_type = std::nullopt) {
    for (uint8_t p = static_cast<uint8_t>(config_read(pci::kCapabilitiesPointer, 1)); p != 0;
         p = static_cast<uint8_t>(config_read(p + 1, 1))) {
      if (config_read(p, 1) == id && (!cfg_type || config_read(p + 3, 1) == *cfg_type)) return p;
    }
    return std::nullopt;
  }
  void enable_msix() {
    const auto cap = find_cap(pci::kCapIdMsix);
    ASSERT_TRUE(cap);
    config_write(*cap + 2, 2, 0x8000);
  }
  // Program MSI-X vector v unmasked with message data = 0x100 + v.
  void program_vector(uint16_t v) {
    bar_write(VirtioPciDevice::kMsixBar, v * 16 + 0, 4, 0xfee00000);
    bar_write(VirtioPciDevice::kMsixBar, v * 16 + 4, 4, 0);
    bar_write(VirtioPciDevice::kMsixBar, v * 16 + 8, 4, 0x100 + v);
    bar_write(VirtioPciDevice::kMsixBar, v * 16 + 12, 4, 0);
  }

  GuestMemory memory;
  std::shared_ptr<NullDevice> device;
  FakeMsiSink msi;
  std::shared_ptr<pci::DirectMsiVectorSink> msi_sink;
  std::shared_ptr<VirtioPciDevice> pci;
  std::shared_ptr<FakeIrqLine> intx;
};

}  // namespace wren::testing
