// libFuzzer target for the PCI bus and the virtio-pci transports.
//
// Two devices sit on a PCI bus: a modern one (slot 1) and a transitional one
// (slot 2), each a small two-queue test device that drains its queues on
// every kick (pop, write into the chain, add_used, interrupt) and asks for
// NEEDS_RESET when a queue breaks. Guest RAM is 64 KiB at address 0. The
// input is a sequence of 12-byte operations; any crash, sanitizer report or
// broken invariant (__builtin_trap) is a finding.
//
// Operation layout (little-endian):
//   u8  kind    bits 0-2 target, bit 3 write (else read), bit 4 device
//               (0 modern, 1 transitional), bits 5-7 sub-op / BAR / slot
//   u8  width   1 << (width & 3) bytes (1, 2, 4, 8)
//   u16 offset
//   u64 value
// Targets:
//   0 modern BAR4 (offset & 0x3fff)      1 MSI-X BAR1 (offset & 0xfff)
//   2 legacy BAR0 (offset & 0xff)        3 config space via PciBus (slot from device)
//   4 0xCF8..0xCFF port I/O (offset & 7) 5 ECAM: bus = sub-op, device = offset >> 12
//   6 host side: sub-op 0 signal_used(value), 1 config changed, 2 NEEDS_RESET,
//     3 write guest RAM at offset, 4 bus reset, 5 save + restore the device
//   7 MMIO/PIO bus access at BAR (sub-op % 6) of the device + offset
// tests/fuzz/make_transport_seeds.py writes the seed corpus.
#include <spdlog/spdlog.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "devices/pci/bus.h"
#include "devices/pci/config_io_port.h"
#include "devices/pci/ecam.h"
#include "devices/pci/msi_vector_sink.h"
#include "hypervisor/guest_memory.h"
#include "hypervisor/layout.h"
#include "virtio/device.h"
#include "virtio/pci/virtio_pci_device.h"

namespace {

using namespace wren;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

class SinkDevice : public VirtioDevice {
 public:
  explicit SinkDevice(GuestMemory& mem) : mem_(mem) {}
  std::string name() const override { return "fuzz"; }
  uint32_t device_type() const override { return 1; }  // net: has a transitional id
  uint64_t device_features() const override {
    return kVirtioFVersion1 | kVirtioFRingEventIdx | kVirtioFRingIndirectDesc | 1;
  }
  uint16_t num_queues() const override { return 2; }
  uint16_t queue_max_size(uint16_t i) const override { return i == 0 ? 16 : 4; }
  uint32_t config_size() const override { return static_cast<uint32_t>(config_.size()); }
  void read_config(uint32_t offset, std::span<uint8_t> out) override {
    check(offset + out.size() <= config_.size());
    std::memcpy(out.data(), config_.data() + offset, out.size());
  }
  void write_config(uint32_t offset, std::span<const uint8_t> in) override {
    check(offset + in.size() <= config_.size());
    std::memcpy(config_.data() + offset, in.data(), in.size());
  }
  bool activate(const ActivationContext& context) override {
    check(!active_);
    check(context.queues.size() == 2);
    check(context.features == (context.features & device_features()));
    queues_ = context.queues;
    active_ = true;
    return true;
  }
  void reset() override {
    active_ = false;
    queues_ = {};
  }
  void queue_notify(uint16_t index) override {
    check(active_ && index < queues_.size());
    Queue& q = queues_[index];
    for (int n = 0; n < 32; ++n) {
      auto chain = q.pop(mem_);
      if (!chain) break;
      const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
      const size_t written = chain->write_at(mem_, 0, bytes);
      (void)q.add_used(mem_, chain->head(), static_cast<uint32_t>(written));
    }
    if (q.broken()) set_needs_reset();
    if (q.needs_notification(mem_)) signal_used(index);
  }
  using VirtioDevice::set_needs_reset;
  using VirtioDevice::signal_config_changed;
  using VirtioDevice::signal_used;

 private:
  GuestMemory& mem_;
  std::array<uint8_t, 12> config_{};
  bool active_ = false;
  std::span<Queue> queues_;
};

class NullLine : public IrqLine {
 public:
  void set_level(bool) override {}
};
class NullMsi : public MsiSink {
 public:
  void send(uint64_t, uint32_t) override {}
};

struct Machine {
  Machine()
      : mem({{0, 0x10000}}),
        bus(mmio, pio, {&line, &line, &line, &line}),
        port(std::make_shared<pci::PciConfigIoPort>(bus)),
        ecam(std::make_shared<pci::PciEcam>(bus)) {
    check(pio.insert(layout::kPortPciConfigAddr, pci::PciConfigIoPort::kLength, port));
    check(mmio.insert(layout::kPciEcamStart, layout::kPciEcamSize, ecam));
    auto msi = std::make_shared<pci::DirectMsiVectorSink>(msi_sink);
    for (int i = 0; i < 2; ++i) {
      devices[i] = std::make_shared<SinkDevice>(mem);
      functions[i] = VirtioPciDevice::create(devices[i], i == 0 ? VirtioPciMode::kModern : VirtioPciMode::kTransitional,
                                             mem, msi, nullptr);
      slots[i] = bus.add_device(functions[i]);
    }
  }

  GuestMemory mem;
  IoBus mmio, pio;
  NullLine line;
  NullMsi msi_sink;
  pci::PciBus bus;
  std::shared_ptr<pci::PciConfigIoPort> port;
  std::shared_ptr<pci::PciEcam> ecam;
  std::array<std::shared_ptr<SinkDevice>, 2> devices;
  std::array<std::shared_ptr<VirtioPciDevice>, 2> functions;
  std::array<uint8_t, 2> slots{};
};

void run_op(Machine& m, const uint8_t* op) {
  const uint8_t kind = op[0];
  const size_t width = size_t{1} << (op[1] & 3);
  uint16_t offset;
  uint64_t value;
  std::memcpy(&offset, op + 2, 2);
  std::memcpy(&value, op + 4, 8);
  const bool write = kind & 0x08;
  const int which = (kind >> 4) & 1;
  const uint8_t sub = kind >> 5;
  VirtioPciDevice& fn = *m.functions[which];
  uint8_t buf[8];
  std::memcpy(buf, &value, 8);
  const std::span<uint8_t> data(buf, width);

  switch (kind & 7) {
    case 0:
    case 1:
    case 2: {
      const int bar = (kind & 7) == 0   ? VirtioPciDevice::kModernBar
                      : (kind & 7) == 1 ? VirtioPciDevice::kMsixBar
                                        : VirtioPciDevice::kLegacyBar;
      const uint64_t mask = (kind & 7) == 0 ? 0x3fff : (kind & 7) == 1 ? 0xfff : 0xff;
      if (write)
        fn.bar_write(bar, offset & mask, data);
      else
        fn.bar_read(bar, offset & mask, data);
      break;
    }
    case 3: {
      const size_t w = std::min<size_t>(width, 4);
      const uint16_t reg = static_cast<uint16_t>(std::min<size_t>(offset & 0xfff, 4096 - w));
      if (write)
        m.bus.config_write(0, m.slots[which], 0, reg, data.first(w));
      else
        m.bus.config_read(0, m.slots[which], 0, reg, data.first(w));
      break;
    }
    case 4: {
      const uint64_t port = layout::kPortPciConfigAddr + (offset & 7);
      if (write)
        (void)m.pio.write(port, data);
      else
        (void)m.pio.read(port, data);
      break;
    }
    case 5: {
      const uint64_t addr = layout::kPciEcamStart + (uint64_t{sub} << 20) +
                            (static_cast<uint64_t>(offset >> 12) << 15) + (offset & 0xfff);
      if (write)
        (void)m.mmio.write(addr, data);
      else
        (void)m.mmio.read(addr, data);
      break;
    }
    case 6: {
      SinkDevice& dev = *m.devices[which];
      switch (sub) {
        case 0: dev.signal_used(static_cast<uint16_t>(value % 3)); break;
        case 1: dev.signal_config_changed(); break;
        case 2: dev.set_needs_reset(); break;
        case 3: (void)m.mem.write(offset, data); break;
        case 4: m.bus.reset(); break;
        case 5: {
          const auto state = fn.save();
          check(fn.restore(state));  // a device must always accept its own state
          m.bus.refresh_mappings();
          break;
        }
        default: break;
      }
      break;
    }
    case 7: {
      const int bar = sub % 6;
      const auto base = m.bus.bar_mapping(m.slots[which], bar);
      const auto spec = fn.bar_spec(bar);
      if (!base || !spec) break;
      IoBus& bus = spec->is_io() ? m.pio : m.mmio;
      const uint64_t addr = *base + (offset % spec->size);
      if (write)
        (void)bus.write(addr, data);
      else
        (void)bus.read(addr, data);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // guest errors are logged; keep the fuzzer quiet
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kOp = 12;
  if (size > kOp * 4096) return -1;  // keep each run short
  Machine m;
  for (size_t at = 0; at + kOp <= size; at += kOp) run_op(m, data + at);
  return 0;
}
