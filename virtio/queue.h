#pragma once
// A virtio split virtqueue (virtio 1.x, 2.7; the legacy transport places the
// same rings with split_ring::legacy_ring_addresses).
//
// Two sides use it:
//  - the transport, on register writes: set_size / set_desc_addr / ... /
//    enable / reset, and save / restore for migration;
//  - the device, on a kick: pop chains, add_used, needs_notification, and the
//    notification-suppression helpers.
//
// The Queue holds no reference to guest memory; every call that touches the
// rings takes the GuestMemory and goes through its checked accessors (so all
// VMM writes into the used ring are dirty-marked).
//
// Guest errors (a malformed chain, avail idx running away, ...) never crash
// the VMM: the queue becomes broken(), remembers the first error, logs it once,
// and from then on pops nothing. The device should then set
// DEVICE_NEEDS_RESET; a transport reset() clears the condition.
//
// Not thread-safe: one thread (the event loop) drives a queue; the transport's
// vCPU-side register accesses must be serialized with it by the caller.
#include <cstdint>
#include <optional>
#include <string>

#include "hypervisor/guest_memory.h"
#include "virtio/descriptor_chain.h"
#include "virtio/queue_layout.h"

namespace wren {

// Everything needed to recreate a queue; plain data for migration. Interrupt
// routing (an MSI-X vector) belongs to the transport, not to the queue.
struct QueueState {
  uint16_t size = 0;   // negotiated queue size; power of two in 1..max_size
  bool ready = false;  // queue_enable (modern) / PFN != 0 (legacy)
  uint64_t desc_addr = 0;
  uint64_t avail_addr = 0;
  uint64_t used_addr = 0;
  uint16_t next_avail = 0;  // device's shadow of how far it has consumed avail
  uint16_t next_used = 0;   // device's shadow of used->idx
  bool event_idx = false;   // VIRTIO_F_RING_EVENT_IDX negotiated
  friend bool operator==(const QueueState&, const QueueState&) = default;
};

// Why a QueueState was refused by Queue::check / restore / enable.
enum class QueueStateError : uint8_t {
  BadSize,         // not a power of two in 1..max_size
  MisalignedRing,  // desc % 16, avail % 2 or used % 4 != 0
  RingOutOfRange,  // a ring (with its event field) not entirely in guest RAM
};
std::string_view to_string(QueueStateError error);

class Queue {
 public:
  static constexpr uint16_t kDefaultMaxSize = 256;

  // `max_size` must be a power of two in 1..32768 (host invariant: throws
  // std::invalid_argument otherwise). `label` names the queue in logs
  // ("net0.rx").
  explicit Queue(uint16_t max_size = kDefaultMaxSize, std::string label = "virtq");

  uint16_t max_size() const { return max_size_; }
  const std::string& label() const { return label_; }

  // ---- Transport side -----------------------------------------------------
  // Register writes. While the queue is ready they are ignored (the spec
  // forbids changing a live queue) and return false. set_size also refuses
  // (keeps the old value) a size that is not a power of two in 1..max_size.
  [[nodiscard]] bool set_size(uint16_t size);
  [[nodiscard]] bool set_desc_addr(uint64_t gpa);
  [[nodiscard]] bool set_avail_addr(uint64_t gpa);
  [[nodiscard]] bool set_used_addr(uint64_t gpa);
  // Set by the transport/device when features are accepted.
  void set_event_idx(bool on) { state_.event_idx = on; }

  // queue_enable = 1: validates size, alignment and that all three rings lie
  // in guest RAM. On failure the queue stays disabled and the reason is
  // returned; the transport may then set DEVICE_NEEDS_RESET.
  [[nodiscard]] std::optional<QueueStateError> enable(const GuestMemory& mem);
  // Back to power-on state: size = max_size, not ready, addresses 0, indices
  // 0, no EVENT_IDX, not broken.
  void reset();

  uint16_t size() const { return state_.size; }
  bool ready() const { return state_.ready; }
  uint64_t desc_addr() const { return state_.desc_addr; }
  uint64_t avail_addr() const { return state_.avail_addr; }
  uint64_t used_addr() const { return state_.used_addr; }
  bool event_idx() const { return state_.event_idx; }
  uint16_t next_avail() const { return state_.next_avail; }
  uint16_t next_used() const { return state_.next_used; }

  // ---- Migration ------------------------------------------------------------
  QueueState save() const { return state_; }
  // Validates like guest input; on failure the queue is left unchanged.
  // Size is always checked; alignment and ring ranges only when ready (a
  // disabled queue's address registers may hold anything). next_avail and
  // next_used may be any value: every u16 is a legal ring position, and the
  // distance to the guest's avail idx is guest-controlled, checked by pop().
  // Ring contents are not read (guest RAM may not be loaded yet).
  // After restore the next needs_notification() returns true (we do not know
  // what the source last signalled).
  [[nodiscard]] bool restore(const QueueState& state, const GuestMemory& mem);
  // The validation restore() applies, for callers that want the reason.
  [[nodiscard]] static std::optional<QueueStateError> check(const QueueState& state, uint16_t max_size,
                                                            const GuestMemory& mem);

  // ---- Device side ----------------------------------------------------------
  // The next available chain; empty if the queue is not ready, broken, or
  // the driver has published nothing new. On a guest error the queue
  // becomes broken and the error is returned (once; later pops are empty).
  //   while (auto c = q.pop(mem)) { ...use *c...; q.add_used(mem, c->head(), n); }
  //   if (q.broken()) device.set_needs_reset();
  ChainResult pop(GuestMemory& mem);
  // Give back the chain returned by the most recent pop() (e.g. RX with no
  // frame that fits); the next pop() returns it again. Only valid if that
  // chain has not been added to the used ring.
  void undo_pop();
  // Number of chains the driver has published that pop() has not taken yet
  // (0 if not ready, broken, or the avail ring is unreadable).
  [[nodiscard]] uint16_t available(const GuestMemory& mem) const;

  // Return a chain to the driver: writes {head, len} into the used ring and
  // then (after a release fence) bumps used->idx. `len` is the number of
  // bytes written into the chain's writable part. Returns false (and writes
  // nothing) if the queue is not ready/broken or head >= size.
  [[nodiscard]] bool add_used(GuestMemory& mem, uint16_t head, uint32_t len);
  // The same in two steps, for a frame spread over several chains (mergeable
  // RX), which the driver must see whole: a driver that found only part of
  // it drops the frame ("buffers missing"). put_used writes {head, len} after
  // the elements already put, without moving used->idx; publish_used then
  // moves used->idx past all of them at once (after a release fence).
  [[nodiscard]] bool put_used(GuestMemory& mem, uint16_t head, uint32_t len);
  [[nodiscard]] bool publish_used(GuestMemory& mem);

  // After one or more add_used(): should the driver be interrupted?
  // EVENT_IDX: true iff used->idx crossed used_event since the last call
  // (vring_need_event). Otherwise: true unless avail->flags has NO_INTERRUPT.
  // Errs towards true when in doubt (a spurious interrupt is harmless).
  [[nodiscard]] bool needs_notification(const GuestMemory& mem);

  // Ask the driver to kick (again) when it adds buffers: EVENT_IDX writes
  // avail_event = next_avail, otherwise clears NO_NOTIFY in used->flags.
  // Notifications start enabled; under EVENT_IDX pop() keeps avail_event
  // following next_avail while they are. Every device must finish handling
  // a kick with this re-check before it goes idle: it returns true if buffers
  // became available meanwhile, and the caller must then pop again instead
  // of sleeping, or that kick is lost:
  //   for (;;) { q.disable_notification(mem); drain(); if (!q.enable_notification(mem)) break; }
  [[nodiscard]] bool enable_notification(GuestMemory& mem);
  // Ask the driver not to kick while we are draining: sets NO_NOTIFY in
  // used->flags (without EVENT_IDX); under EVENT_IDX pop() just stops
  // advancing avail_event.
  void disable_notification(GuestMemory& mem);

  // ---- Errors -------------------------------------------------------------
  bool broken() const { return error_.has_value(); }
  // The first guest error since the last reset/enable.
  std::optional<ChainError> error() const { return error_; }
  // Guest errors seen over this queue's lifetime (only the first is logged
  // at warning level, so a guest cannot flood the log by reset + error).
  uint64_t error_count() const { return error_count_; }

 private:
  void mark_broken(ChainError error);
  ChainResult fail(ChainError error);
  std::optional<uint16_t> read_avail_idx(const GuestMemory& mem) const;

  uint16_t max_size_;
  std::string label_;
  QueueState state_;
  // Host copy of used->flags (the device is its only writer).
  uint16_t used_flags_ = 0;
  // Used elements written past next_used but not yet published.
  uint16_t unpublished_used_ = 0;
  // Between disable_notification() and enable_notification() pop() stops
  // advancing avail_event (EVENT_IDX), so the driver stops kicking.
  bool notification_enabled_ = true;
  // used->idx at the last needs_notification() (EVENT_IDX); invalid after
  // enable/restore so the first check always notifies.
  uint16_t signalled_used_ = 0;
  bool signalled_used_valid_ = false;
  std::optional<ChainError> error_;
  uint64_t error_count_ = 0;
};

}  // namespace wren
