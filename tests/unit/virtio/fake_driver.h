#pragma once
// FakeDriver: plays the guest's virtio driver for one split virtqueue, in a
// GuestMemory, so device and queue tests can run without a guest.
//
//   GuestMemory mem({{0, 1 << 20}});
//   FakeDriver drv(mem, 16);             // rings at 0x10000, data area after them
//   Queue q(256);
//   drv.attach(q);                       // set_size/addresses + enable, like a transport
//   uint64_t out = drv.alloc(64);        // data buffer in the data area
//   drv.send({{drv.put_bytes(payload), len, false}, {out, 64, true}});  // add + publish
//   auto chain = q.pop(mem); ...; (void)q.add_used(mem, chain->head(), 10);
//   auto used = drv.next_used();         // {id, len}; frees the chain's descriptors
//
// Everything is writable raw too (write_desc, set_avail_idx, ...), so tests
// can corrupt any field; nothing is cached, so a corruption is seen by the
// next device access. Misuse of the helper itself (no free descriptors, data
// area exhausted) throws std::runtime_error.
//
// Header-only, so any test binary (virtio_tests, net_tests, ...) can use it:
//   #include "unit/virtio/fake_driver.h"     // tests/ is on the include path
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "virtio/queue.h"
#include "virtio/queue_layout.h"

namespace wren {

// One buffer of a chain as the driver describes it.
struct FakeBuffer {
  uint64_t gpa = 0;
  uint32_t len = 0;
  bool writable = false;  // device-writable (VIRTQ_DESC_F_WRITE)
};

class FakeDriver {
 public:
  // Lays out a `size`-entry queue at `base` (16-aligned): descriptor table,
  // then avail ring, then used ring (4-aligned). The data area used by
  // alloc() starts at the next page after the used ring and ends at the end
  // of the region holding `base`. Rings are zeroed, as a driver does.
  FakeDriver(GuestMemory& mem, uint16_t size, uint64_t base = 0x10000);

  uint16_t size() const { return size_; }
  uint64_t desc_addr() const { return desc_; }
  uint64_t avail_addr() const { return avail_; }
  uint64_t used_addr() const { return used_; }

  // A ready QueueState describing these rings (indices 0).
  QueueState queue_state(bool event_idx = false) const;
  // Programs `q` the way a transport would (set_size, addresses,
  // set_event_idx, enable); throws if the queue refuses.
  void attach(Queue& q, bool event_idx = false) const;

  // ---- Data area --------------------------------------------------------------
  // Reserve `len` bytes (aligned) in the data area; returns the gpa.
  uint64_t alloc(uint64_t len, uint64_t align = 16);
  // alloc + copy `bytes` there; returns the gpa.
  uint64_t put_bytes(std::span<const uint8_t> bytes);
  std::vector<uint8_t> get_bytes(uint64_t gpa, uint64_t len) const;

  // ---- Adding chains -----------------------------------------------------------
  // Writes the buffers into free descriptors linked with NEXT (in order) and
  // returns the head index. Not yet visible to the device: see publish().
  uint16_t add_chain(std::span<const FakeBuffer> buffers);
  // Writes the buffers into an indirect table in the data area and uses one
  // descriptor (INDIRECT) pointing at it. Returns the head index.
  uint16_t add_indirect_chain(std::span<const FakeBuffer> buffers);
  // Puts `head` into the next avail slot, then (after a release fence) bumps avail->idx.
  void publish(uint16_t head);
  // add_chain / add_indirect_chain + publish.
  uint16_t send(std::span<const FakeBuffer> buffers);
  uint16_t send(std::initializer_list<FakeBuffer> buffers) { return send(std::span(buffers.begin(), buffers.size())); }
  uint16_t send_indirect(std::span<const FakeBuffer> buffers);
  uint16_t send_indirect(std::initializer_list<FakeBuffer> buffers) {
    return send_indirect(std::span(buffers.begin(), buffers.size()));
  }
  uint16_t free_descriptors() const { return static_cast<uint16_t>(free_.size()); }

  // ---- Used ring ---------------------------------------------------------------
  // The next used element the driver has not consumed yet (nullopt if
  // used->idx has not moved); frees that chain's descriptors.
  std::optional<split_ring::UsedElement> next_used();
  uint16_t used_idx() const;
  uint16_t used_flags() const;
  uint16_t avail_event() const;  // EVENT_IDX field at the end of the used ring
  split_ring::UsedElement used_entry(uint16_t slot) const;

  // ---- Raw access (for corrupting the rings) --------------------------------
  void write_desc(uint16_t index, const split_ring::Descriptor& desc);
  split_ring::Descriptor read_desc(uint16_t index) const;
  void set_avail_idx(uint16_t idx);
  uint16_t avail_idx() const;
  void set_avail_entry(uint16_t slot, uint16_t head);  // slot is taken mod size
  void set_avail_flags(uint16_t flags);                // e.g. VRING_AVAIL_F_NO_INTERRUPT
  void set_used_event(uint16_t idx);                   // EVENT_IDX field at the end of the avail ring

 private:
  static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
  uint16_t take_descriptor();
  template <typename T>
  void put(uint64_t gpa, const T& value);
  template <typename T>
  T get(uint64_t gpa) const;

  GuestMemory& mem_;
  uint16_t size_;
  uint64_t desc_, avail_, used_;
  uint64_t data_next_, data_end_;
  std::vector<uint16_t> free_;
  std::map<uint16_t, std::vector<uint16_t>> in_flight_;  // head -> descriptors it holds
  uint16_t last_seen_used_ = 0;
};

// ---- Implementation ------------------------------------------------------------
inline FakeDriver::FakeDriver(GuestMemory& mem, uint16_t size, uint64_t base) : mem_(mem), size_(size) {
  if (size == 0 || (size & (size - 1)) != 0) throw std::runtime_error("FakeDriver: size must be a power of two");
  desc_ = align_up(base, split_ring::kDescAlign);
  avail_ = desc_ + split_ring::desc_table_bytes(size);
  used_ = align_up(avail_ + split_ring::avail_ring_bytes(size), split_ring::kUsedAlign);
  data_next_ = align_up(used_ + split_ring::used_ring_bytes(size), 4096);
  data_end_ = 0;
  for (const auto& r : mem.regions())
    if (desc_ >= r.gpa && desc_ - r.gpa < r.size) data_end_ = r.gpa + r.size;
  if (data_end_ < data_next_ || !mem.fill(desc_, 0, data_next_ - desc_))
    throw std::runtime_error("FakeDriver: rings do not fit in guest RAM");
  for (uint16_t i = 0; i < size; ++i) free_.push_back(i);
}

template <typename T>
inline void FakeDriver::put(uint64_t gpa, const T& value) {
  if (!mem_.write_obj(gpa, value)) throw std::runtime_error("FakeDriver: write outside guest RAM");
}

template <typename T>
inline T FakeDriver::get(uint64_t gpa) const {
  auto v = mem_.read_obj<T>(gpa);
  if (!v) throw std::runtime_error("FakeDriver: read outside guest RAM");
  return *v;
}

inline QueueState FakeDriver::queue_state(bool event_idx) const {
  QueueState s;
  s.size = size_;
  s.ready = true;
  s.desc_addr = desc_;
  s.avail_addr = avail_;
  s.used_addr = used_;
  s.event_idx = event_idx;
  return s;
}

inline void FakeDriver::attach(Queue& q, bool event_idx) const {
  if (!q.set_size(size_) || !q.set_desc_addr(desc_) || !q.set_avail_addr(avail_) || !q.set_used_addr(used_))
    throw std::runtime_error("FakeDriver: queue refused its registers");
  q.set_event_idx(event_idx);
  if (q.enable(mem_)) throw std::runtime_error("FakeDriver: queue refused enable");
}

inline uint64_t FakeDriver::alloc(uint64_t len, uint64_t align) {
  const uint64_t gpa = align_up(data_next_, align);
  if (gpa + len > data_end_) throw std::runtime_error("FakeDriver: data area exhausted");
  data_next_ = gpa + len;
  return gpa;
}

inline uint64_t FakeDriver::put_bytes(std::span<const uint8_t> bytes) {
  const uint64_t gpa = alloc(bytes.size());
  if (!mem_.write(gpa, bytes)) throw std::runtime_error("FakeDriver: write outside guest RAM");
  return gpa;
}

inline std::vector<uint8_t> FakeDriver::get_bytes(uint64_t gpa, uint64_t len) const {
  std::vector<uint8_t> out(len);
  if (!mem_.read(gpa, out)) throw std::runtime_error("FakeDriver: read outside guest RAM");
  return out;
}

inline uint16_t FakeDriver::take_descriptor() {
  if (free_.empty()) throw std::runtime_error("FakeDriver: out of descriptors");
  const uint16_t i = free_.front();
  free_.erase(free_.begin());
  return i;
}

inline uint16_t FakeDriver::add_chain(std::span<const FakeBuffer> buffers) {
  if (buffers.empty()) throw std::runtime_error("FakeDriver: empty chain");
  if (buffers.size() > free_.size()) throw std::runtime_error("FakeDriver: out of descriptors");
  std::vector<uint16_t> ids;
  for (size_t i = 0; i < buffers.size(); ++i) ids.push_back(take_descriptor());
  for (size_t i = 0; i < buffers.size(); ++i) {
    const bool last = i + 1 == buffers.size();
    split_ring::Descriptor d;
    d.addr = buffers[i].gpa;
    d.len = buffers[i].len;
    d.flags =
        static_cast<uint16_t>((buffers[i].writable ? split_ring::kDescWrite : 0) | (last ? 0 : split_ring::kDescNext));
    d.next = last ? 0 : ids[i + 1];
    write_desc(ids[i], d);
  }
  in_flight_[ids[0]] = ids;
  return ids[0];
}

inline uint16_t FakeDriver::add_indirect_chain(std::span<const FakeBuffer> buffers) {
  if (buffers.empty()) throw std::runtime_error("FakeDriver: empty chain");
  const uint64_t table = alloc(buffers.size() * sizeof(split_ring::Descriptor), 16);
  for (size_t i = 0; i < buffers.size(); ++i) {
    const bool last = i + 1 == buffers.size();
    split_ring::Descriptor d;
    d.addr = buffers[i].gpa;
    d.len = buffers[i].len;
    d.flags =
        static_cast<uint16_t>((buffers[i].writable ? split_ring::kDescWrite : 0) | (last ? 0 : split_ring::kDescNext));
    d.next = last ? 0 : static_cast<uint16_t>(i + 1);
    put(table + i * sizeof(split_ring::Descriptor), d);
  }
  const uint16_t head = take_descriptor();
  write_desc(head, {table, static_cast<uint32_t>(buffers.size() * sizeof(split_ring::Descriptor)),
                    split_ring::kDescIndirect, 0});
  in_flight_[head] = {head};
  return head;
}

inline void FakeDriver::publish(uint16_t head) {
  const uint16_t idx = avail_idx();
  set_avail_entry(idx, head);
  std::atomic_thread_fence(std::memory_order_release);
  set_avail_idx(static_cast<uint16_t>(idx + 1));
}

inline uint16_t FakeDriver::send(std::span<const FakeBuffer> buffers) {
  const uint16_t head = add_chain(buffers);
  publish(head);
  return head;
}

inline uint16_t FakeDriver::send_indirect(std::span<const FakeBuffer> buffers) {
  const uint16_t head = add_indirect_chain(buffers);
  publish(head);
  return head;
}

inline std::optional<split_ring::UsedElement> FakeDriver::next_used() {
  if (used_idx() == last_seen_used_) return std::nullopt;
  std::atomic_thread_fence(std::memory_order_acquire);
  const split_ring::UsedElement e = used_entry(last_seen_used_);
  ++last_seen_used_;
  if (auto it = in_flight_.find(static_cast<uint16_t>(e.id)); it != in_flight_.end()) {
    free_.insert(free_.end(), it->second.begin(), it->second.end());
    in_flight_.erase(it);
  }
  return e;
}

inline uint16_t FakeDriver::used_idx() const { return get<uint16_t>(used_ + split_ring::kUsedIdx); }
inline uint16_t FakeDriver::used_flags() const { return get<uint16_t>(used_ + split_ring::kUsedFlags); }
inline uint16_t FakeDriver::avail_event() const { return get<uint16_t>(used_ + split_ring::used_avail_event(size_)); }
inline split_ring::UsedElement FakeDriver::used_entry(uint16_t slot) const {
  return get<split_ring::UsedElement>(used_ + split_ring::used_ring_entry(slot & (size_ - 1)));
}

inline void FakeDriver::write_desc(uint16_t index, const split_ring::Descriptor& desc) {
  put(desc_ + uint64_t{16} * (index & (size_ - 1)), desc);
}
inline split_ring::Descriptor FakeDriver::read_desc(uint16_t index) const {
  return get<split_ring::Descriptor>(desc_ + uint64_t{16} * (index & (size_ - 1)));
}
inline void FakeDriver::set_avail_idx(uint16_t idx) { put<uint16_t>(avail_ + split_ring::kAvailIdx, idx); }
inline uint16_t FakeDriver::avail_idx() const { return get<uint16_t>(avail_ + split_ring::kAvailIdx); }
inline void FakeDriver::set_avail_entry(uint16_t slot, uint16_t head) {
  put<uint16_t>(avail_ + split_ring::avail_ring_entry(slot & (size_ - 1)), head);
}
inline void FakeDriver::set_avail_flags(uint16_t flags) { put<uint16_t>(avail_ + split_ring::kAvailFlags, flags); }
inline void FakeDriver::set_used_event(uint16_t idx) {
  put<uint16_t>(avail_ + split_ring::avail_used_event(size_), idx);
}

}  // namespace wren
