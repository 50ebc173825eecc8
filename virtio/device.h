#pragma once
// The transport-agnostic face of a virtio device (virtio-net, -blk, -rng...).
// A transport (virtio/pci/virtio_pci_device.h) owns the registers, the feature and
// status state machine, the queues' configuration and interrupt delivery; a
// device only says what it offers and handles activation, kicks and reset.
//
// Threading contract (the transport enforces it):
//  - activate(), reset() and queue_notify() never run concurrently with each
//    other; queue_notify() only runs between a successful activate() and
//    the next reset(). Kicks arrive on the device thread (event loop) when
//    the machine wired ioeventfds, on a vCPU thread otherwise.
//  - read_config()/write_config() come from vCPU threads at any time
//    (before and after activation); the device guards its own config.
//  - The queues handed over in activate() belong to the device until
//    reset() returns: after that it must not touch them (reset() must wait
//    for any other thread of the device, e.g. a TAP reader, to let go).
//  - signal_used(), signal_config_changed() and set_needs_reset() may be
//    called from any thread, without holding locks the transport could be
//    waiting on (the transport takes none of the device's locks).
//
// Adding a device type = one class implementing the pure virtuals below.
#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "hypervisor/guest_memory.h"
#include "virtio/queue.h"

namespace wren {

// Feature bits every transport knows about (virtio 1.x §6).
inline constexpr uint64_t kVirtioFRingIndirectDesc = uint64_t{1} << 28;
inline constexpr uint64_t kVirtioFRingEventIdx = uint64_t{1} << 29;
inline constexpr uint64_t kVirtioFVersion1 = uint64_t{1} << 32;
inline constexpr uint64_t kVirtioFAccessPlatform = uint64_t{1} << 33;

// What the transport gives the device on DRIVER_OK.
struct ActivationContext {
  // The features both sides agreed on. Without kVirtioFVersion1 the driver
  // is a legacy (virtio 0.9.5) driver: guest-native (on x86 little-endian)
  // config and headers, legacy device-specific rules (e.g. virtio-net's
  // header has no num_buffers unless MRG_RXBUF).
  uint64_t features = 0;
  GuestMemory* memory = nullptr;
  // One per queue index; only queues with ready() set were enabled by the
  // driver. Buffers may already be available (a driver may add buffers
  // before DRIVER_OK): a device should look once after activation.
  std::span<Queue> queues;

  bool legacy() const { return !(features & kVirtioFVersion1); }
};

// Implemented by the transport; the device's way back.
class VirtioTransportEvents {
 public:
  virtual ~VirtioTransportEvents() = default;
  // Used buffers were added to queue `index` (the device already checked
  // Queue::needs_notification()): interrupt the driver.
  virtual void signal_used(uint16_t index) = 0;
  // Device config space changed: bump config_generation and, after
  // DRIVER_OK, send a configuration-change interrupt.
  virtual void signal_config_changed() = 0;
  // The device hit an error it cannot recover from without a reset (e.g. a
  // broken queue): set DEVICE_NEEDS_RESET and interrupt the driver.
  // Ignored unless the device is active (after a reset it refers to
  // nothing any more).
  virtual void set_needs_reset() = 0;
};

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual std::string name() const = 0;
  // VIRTIO_ID_* (<linux/virtio_ids.h>): 1 net, 2 block, 4 rng, ...
  virtual uint32_t device_type() const = 0;
  // Everything the device offers, including kVirtioFVersion1 (a transport
  // in transitional mode offers the low 32 bits to legacy drivers).
  virtual uint64_t device_features() const = 0;
  // Device-specific dependency rules (e.g. "CTRL_VLAN needs CTRL_VQ"),
  // checked when the driver sets FEATURES_OK; `features` is already a
  // subset of device_features(). Returning false leaves FEATURES_OK clear.
  virtual bool accept_features(uint64_t /*features*/) const { return true; }

  virtual uint16_t num_queues() const = 0;
  // Power of two, 1..32768.
  virtual uint16_t queue_max_size(uint16_t index) const = 0;

  // Device-specific config space (virtio-net: mac, status, ...). The
  // transport clips accesses to [0, config_size()).
  virtual uint32_t config_size() const = 0;
  virtual void read_config(uint32_t offset, std::span<uint8_t> out) = 0;
  virtual void write_config(uint32_t offset, std::span<const uint8_t> in) = 0;

  // DRIVER_OK. Return false if the device cannot run with this setup (the
  // transport then sets DEVICE_NEEDS_RESET).
  [[nodiscard]] virtual bool activate(const ActivationContext& context) = 0;
  // Writing 0 to device_status (or a PCI reset): stop, drop the queues,
  // return to the pre-activation state.
  virtual void reset() = 0;
  // The driver kicked queue `index` (< num_queues()).
  virtual void queue_notify(uint16_t index) = 0;

  // Called once by the transport that drives this device.
  void bind_transport(VirtioTransportEvents* events) { events_.store(events, std::memory_order_release); }

 protected:
  void signal_used(uint16_t index) {
    if (auto* e = events_.load(std::memory_order_acquire)) e->signal_used(index);
  }
  void signal_config_changed() {
    if (auto* e = events_.load(std::memory_order_acquire)) e->signal_config_changed();
  }
  void set_needs_reset() {
    if (auto* e = events_.load(std::memory_order_acquire)) e->set_needs_reset();
  }

 private:
  std::atomic<VirtioTransportEvents*> events_{nullptr};
};

}  // namespace wren
