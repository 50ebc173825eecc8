#pragma once
// A virtio device as a PCI function (virtio 1.x §4.1): the transport the
// guest's virtio_pci driver talks to.
//
// BAR layout
//   BAR0  I/O, legacy register file + device config  (transitional only)
//   BAR1  32-bit memory, 4 KiB+: MSI-X table at 0, PBA at 0x800 (or after
//         the table when it is larger)
//   BAR4  64-bit memory, 16 KiB, the modern structures:
//           0x0000 common config (0x40)   0x1000 ISR (1)
//           0x2000 device config          0x3000 notify, queue i at 4*i
// Capabilities: virtio common/notify/ISR/device/PCI-cfg-access vendor
// capabilities, then MSI-X (num_queues + 1 vectors). INTx is pin A.
//
// IDs: vendor 0x1af4; modern: device 0x1040 + type, revision 1, subsystem
// 0x1af4:0x1100; transitional: device 0x1000 + n (only types that have
// one), revision 0, subsystem id = device type (what legacy drivers match).
//
// Kicks: with a NotifyWiring that supports ioeventfds, every queue's notify
// address gets one (re-attached when the guest moves BAR4) and kicks reach
// the device on the event loop; other kicks (other widths, the legacy
// notify register, no ioeventfd support) are decoded here and handed to
// NotifyWiring::kick().
#include <array>
#include <memory>
#include <vector>

#include "devices/pci/config_space.h"
#include "devices/pci/device.h"
#include "devices/pci/msix.h"
#include "hypervisor/guest_memory.h"
#include "virtio/device.h"
#include "virtio/pci/notify.h"
#include "virtio/pci/transport_core.h"

namespace wren {

class VirtioPciDevice : public pci::PciDevice,
                        private TransportInterruptPins,
                        public std::enable_shared_from_this<VirtioPciDevice> {
 public:
  static constexpr int kLegacyBar = 0;
  static constexpr int kMsixBar = 1;
  static constexpr int kModernBar = 4;
  static constexpr uint64_t kModernBarSize = 0x4000;
  static constexpr uint64_t kCommonCfgOffset = 0x0000;
  static constexpr uint64_t kIsrOffset = 0x1000;
  static constexpr uint64_t kDeviceCfgOffset = 0x2000;
  static constexpr uint64_t kNotifyOffset = 0x3000;
  static constexpr uint64_t kRegionSize = 0x1000;
  static constexpr uint32_t kNotifyOffMultiplier = 4;
  // Queues a device may have: the notify region holds 4 bytes per queue.
  static constexpr uint16_t kMaxQueues = kRegionSize / kNotifyOffMultiplier;

  // MSI-X vectors this device will have: one per queue plus config.
  static uint16_t msix_vector_count(const VirtioDevice& device);

  // Host configuration errors (too many queues, config too large, a type
  // without a transitional id in transitional mode, ...) throw
  // std::invalid_argument. `msi` must serve msix_vector_count(*device)
  // vectors. `memory` must outlive the result.
  static std::shared_ptr<VirtioPciDevice> create(std::shared_ptr<VirtioDevice> device, VirtioPciMode mode,
                                                 GuestMemory& memory, std::shared_ptr<pci::MsiVectorSink> msi,
                                                 std::shared_ptr<NotifyWiring> wiring);
  ~VirtioPciDevice() override;

  // PciDevice
  std::string name() const override;
  void config_read(uint16_t offset, std::span<uint8_t> out) override;
  void config_write(uint16_t offset, std::span<const uint8_t> in) override;
  std::optional<pci::BarSpec> bar_spec(int index) const override;
  std::shared_ptr<BusDevice> bar_region(int index) override;
  void bar_mapped(int index, uint64_t address) override;
  void bar_unmapped(int index, uint64_t address) override;
  void attach_intx(std::shared_ptr<IrqLine> line) override;
  void reset() override;

  // BAR accesses (what the regions on the IoBus call).
  void bar_read(int bar, uint64_t offset, std::span<uint8_t> out);
  void bar_write(int bar, uint64_t offset, std::span<const uint8_t> in);

  VirtioDevice& device() { return *device_; }
  VirtioPciMode mode() const { return core_.mode(); }

  // What reports (the control socket) show of the transport: one consistent
  // reading, taken under the function's locks, without saving any state.
  struct Status {
    VirtioPciMode mode = VirtioPciMode::kModern;
    uint8_t device_status = 0;
    uint64_t driver_features = 0;
    bool msix_enabled = false;
  };
  Status status();

  // Migration. PCI config bytes (guest-writable parts), MSI-X table and the
  // transport registers; the device's own state is saved by the device.
  // After restore() the bus must re-derive BAR mappings (PciBus::reset is
  // not wanted here: call PciBus::refresh_mappings()). The INTx level is
  // derived from the restored ISR.
  struct State {
    std::vector<uint8_t> pci_config;
    pci::MsixTable::State msix;
    VirtioTransportState transport;
  };
  State save();
  // Validates like guest input (validate()); on failure nothing changes.
  [[nodiscard]] bool restore(const State& state);
  // The checks restore() applies against this function, its device and guest
  // memory: the first problem, or nullopt. (The payload layer has already
  // checked the state's shape: config image size, MSI-X array lengths.)
  [[nodiscard]] std::optional<std::string> validate(const State& state) const;
  // Whether the device's own saved state, active with `device_features` or
  // inactive, fits `state` (TransportCore::check_device_fits): restoring a
  // pair that does not would leave the guest believing state the device
  // dropped.
  [[nodiscard]] std::optional<std::string> check_device_fits(const State& state, bool device_active,
                                                             uint64_t device_features) const;

 private:
  struct Private {};

 public:
  VirtioPciDevice(Private, std::shared_ptr<VirtioDevice> device, VirtioPciMode mode, GuestMemory& memory,
                  std::shared_ptr<pci::MsiVectorSink> msi, std::shared_ptr<NotifyWiring> wiring);

 private:
  class Region;

  // TransportInterruptPins (irq_mutex held)
  bool msix_enabled() const override;
  uint16_t msix_vectors() const override;
  void msix_notify(uint16_t vector) override;
  void set_intx(bool level) override;

  void build_capabilities();
  void update_intx_locked();
  // Access lock held.
  void bar_read_locked(int bar, uint64_t offset, std::span<uint8_t> out);
  void bar_write_locked(int bar, uint64_t offset, std::span<const uint8_t> in);
  void pci_cfg_window_access(bool write);
  void kick(uint16_t queue);
  void attach_notifiers(uint64_t bar_address);
  void detach_notifiers();

  std::shared_ptr<VirtioDevice> device_;
  std::shared_ptr<NotifyWiring> wiring_;
  pci::PciConfigSpace config_;  // guarded by core_.irq_mutex()
  pci::MsixTable msix_;
  TransportCore core_;
  std::shared_ptr<IrqLine> intx_line_;
  bool intx_level_ = false;  // irq_mutex
  uint8_t pci_cfg_cap_ = 0;  // offset of the VIRTIO_PCI_CAP_PCI_CFG capability
  uint32_t msix_pba_offset_ = 0;
  std::array<std::optional<pci::BarSpec>, pci::kNumBars> bar_specs_{};
  std::array<std::shared_ptr<Region>, pci::kNumBars> regions_{};
  // Notify addresses currently handed to the wiring (access lock).
  std::vector<uint64_t> attached_notifiers_;
};

}  // namespace wren
