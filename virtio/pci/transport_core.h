#pragma once
// The state a virtio-pci function keeps whichever register file (modern
// common config or legacy I/O BAR) the driver uses: device status and its
// state machine, feature negotiation, the queues' registers, MSI-X vector
// assignment, ISR and config_generation, activation and reset.
//
// Locking. Guest register accesses are serialised by access_mutex(), which
// the PCI function holds around every access and which is also held while
// the device's activate()/reset()/config hooks run. Interrupt state (status,
// ISR, vectors, config generation) is additionally guarded by irq_mutex(),
// the only lock the device thread takes when it signals. Lock order:
// access -> kick -> irq -> (MSI-X table). The device is never called with
// irq_mutex() held.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "virtio/device.h"
#include "virtio/pci/ids.h"
#include "virtio/queue.h"

namespace wren {

enum class VirtioPciMode : uint8_t {
  kModern,        // virtio 1.x only (device id 0x1040 + type)
  kTransitional,  // legacy I/O BAR as well (device id 0x1000 + n, revision 0)
};

// The interrupt outputs of the PCI function; called with irq_mutex() held.
class TransportInterruptPins {
 public:
  virtual ~TransportInterruptPins() = default;
  virtual bool msix_enabled() const = 0;
  virtual uint16_t msix_vectors() const = 0;
  virtual void msix_notify(uint16_t vector) = 0;
  virtual void set_intx(bool level) = 0;
};

// Plain state for save/restore. The transport owns the queues' MSI-X
// vectors: queue_vectors[i] belongs to queues[i].
struct VirtioTransportState {
  uint8_t status = 0;
  uint64_t driver_features = 0;
  uint32_t device_feature_select = 0;
  uint32_t driver_feature_select = 0;
  uint16_t queue_select = 0;
  uint8_t isr = 0;
  uint8_t config_generation = 0;
  uint16_t config_vector = virtio_pci::kNoVector;
  std::vector<uint16_t> queue_vectors;
  std::vector<QueueState> queues;
};

class TransportCore : public VirtioTransportEvents {
 public:
  // `device`, `memory` and `pins` must outlive the core. Binds the device.
  TransportCore(VirtioDevice& device, GuestMemory& memory, VirtioPciMode mode, TransportInterruptPins& pins);
  ~TransportCore() override;

  std::mutex& access_mutex() { return access_mutex_; }
  std::mutex& irq_mutex() { return irq_mutex_; }

  VirtioDevice& device() { return device_; }
  VirtioPciMode mode() const { return mode_; }

  // ---- Register primitives: caller holds access_mutex() ---------------------
  uint8_t status() const;
  // A status write through the modern (legacy_interface = false) or legacy
  // register file. 0 resets; otherwise bits only accumulate, FEATURES_OK is
  // granted only after validation, DRIVER_OK activates the device, and the
  // guest can neither set nor clear NEEDS_RESET.
  void write_status(uint8_t value, bool legacy_interface);

  uint32_t device_feature_select() const { return device_feature_select_; }
  void set_device_feature_select(uint32_t v) { device_feature_select_ = v; }
  uint32_t driver_feature_select() const { return driver_feature_select_; }
  void set_driver_feature_select(uint32_t v) { driver_feature_select_ = v; }
  // 32-bit window of the offered / acked features selected by `select`.
  uint32_t device_features_word(uint32_t select) const;
  uint32_t driver_features_word(uint32_t select) const;
  // Ignored once FEATURES_OK or DRIVER_OK is set.
  void write_driver_features_word(uint32_t select, uint32_t value);
  uint64_t offered_features() const { return offered_features_; }
  uint64_t driver_features() const { return driver_features_; }

  uint16_t num_queues() const { return static_cast<uint16_t>(queues_.size()); }
  uint16_t queue_select() const { return queue_select_; }
  void set_queue_select(uint16_t index) { queue_select_ = index; }
  // The selected queue; nullptr if queue_select >= num_queues.
  const Queue* selected_queue() const;
  // Queue registers change only before DRIVER_OK (and only while the
  // queue is disabled; Queue itself refuses that).
  void write_queue_size(uint16_t size);
  enum class RingPart : uint8_t { kDesc, kDriver, kDevice };
  // `mask` selects the bits of the 64-bit address being written (a
  // 32-bit half or all of it).
  void write_queue_address(RingPart part, uint64_t value, uint64_t mask);
  void write_queue_enable(uint16_t value);
  // Legacy: a page frame number places the whole ring (0 disables it).
  void write_legacy_pfn(uint32_t pfn);
  uint32_t legacy_pfn() const;

  // MSI-X vector registers (invalid vectors read back as NO_VECTOR).
  uint16_t config_vector() const;
  void write_config_vector(uint16_t vector);
  uint16_t queue_vector() const;  // of the selected queue
  void write_queue_vector(uint16_t vector);

  // Read-to-clear; lowers INTx.
  uint8_t read_isr();
  uint8_t config_generation() const;

  // Device config, clipped to the device's config_size.
  void read_device_config(uint64_t offset, std::span<uint8_t> out);
  void write_device_config(uint64_t offset, std::span<const uint8_t> in);

  // Virtio reset (status 0); also part of a PCI reset.
  void reset();

  // ---- Device thread --------------------------------------------------------
  // Runs device.queue_notify(index) if the device is active; safe from any
  // thread; never concurrent with activation/reset.
  void dispatch_kick(uint16_t index);
  bool active() const { return active_.load(std::memory_order_acquire); }

  // VirtioTransportEvents (any thread).
  void signal_used(uint16_t index) override;
  void signal_config_changed() override;
  void set_needs_reset() override;

  // ---- Interrupt pins changed (caller holds irq_mutex()) --------------------
  // E.g. MSI-X got disabled: INTx must reflect the ISR again.
  void refresh_intx_locked();

  // ---- Migration (caller holds access_mutex(); device thread paused) -------
  VirtioTransportState save() const;
  // Validates like guest input (check()); on failure nothing changes. If the
  // state has DRIVER_OK (and not NEEDS_RESET/FAILED), the device is
  // re-activated with the restored queues.
  [[nodiscard]] bool restore(const VirtioTransportState& state);
  // The checks restore() applies, against this device and guest memory: the
  // first problem, or nullopt.
  [[nodiscard]] std::optional<std::string> check(const VirtioTransportState& state) const;
  // Whether a device saved as `device_active` (with `device_features`) fits
  // `state`, which must pass check(): restore(state) re-activates the device
  // exactly when the state has DRIVER_OK without NEEDS_RESET or FAILED, with
  // the features the driver negotiated, and the device adopts its saved state
  // only if it was active with those same features. With NEEDS_RESET or
  // FAILED an activated device may have stayed active or never become so.
  [[nodiscard]] std::optional<std::string> check_device_fits(const VirtioTransportState& state, bool device_active,
                                                             uint64_t device_features) const;

 private:
  Queue* selected_queue_mut();
  bool features_acceptable(uint64_t features) const;
  // The features the device is activated with under this status.
  uint64_t activation_features(uint64_t driver_features, uint8_t status) const;
  void activate();
  void needs_reset_locked();                              // irq_mutex_ held
  void deliver_locked(uint16_t vector, uint8_t isr_bit);  // irq_mutex_ held
  uint16_t valid_vector_locked(uint16_t vector) const;

  VirtioDevice& device_;
  GuestMemory& memory_;
  const VirtioPciMode mode_;
  TransportInterruptPins& pins_;
  const uint64_t offered_features_;

  std::mutex access_mutex_;
  // Held shared while the device handles a kick, exclusively while it is
  // activated or reset.
  std::shared_mutex kick_mutex_;
  mutable std::mutex irq_mutex_;

  // access_mutex_
  uint64_t driver_features_ = 0;
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  uint16_t queue_select_ = 0;
  std::vector<Queue> queues_;

  // irq_mutex_
  uint8_t status_ = 0;
  uint8_t isr_ = 0;
  uint8_t config_generation_ = 0;
  uint16_t config_vector_ = virtio_pci::kNoVector;
  std::vector<uint16_t> queue_vectors_;

  std::atomic<bool> active_{false};
};

}  // namespace wren
