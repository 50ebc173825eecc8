#pragma once
// Asynchronous file I/O for the block device, on io_uring (liburing): the
// event loop submits and reaps, the kernel does the work, requests finish
// in any order, and no thread is spent per request. Completions are
// signalled on an eventfd the device watches from the event loop.
//
// Each operation carries a 64-bit token, returned with its result (bytes or
// -errno). Not thread-safe: the owner serializes all calls.
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "hypervisor/unique_fd.h"

struct io_uring;
struct io_uring_sqe;

namespace wren::blk {

class IoEngine {
 public:
  // A ring with room for `depth` operations in flight. Throws
  // std::system_error when io_uring is unavailable.
  explicit IoEngine(unsigned depth);
  ~IoEngine();
  IoEngine(const IoEngine&) = delete;
  IoEngine& operator=(const IoEngine&) = delete;

  // Readable when completions are waiting (reap them; then read it to re-arm:
  // reap() does that).
  int event_fd() const { return event_fd_.get(); }
  unsigned depth() const { return depth_; }
  unsigned in_flight() const { return in_flight_; }

  // Queue operations (false: the ring is full; nothing was queued). The
  // iovecs must stay valid until the completion is reaped.
  [[nodiscard]] bool readv(int fd, const iovec* iov, unsigned count, uint64_t offset, uint64_t token);
  // `dsync`: the data is on stable storage when the write completes (RWF_DSYNC).
  [[nodiscard]] bool writev(int fd, const iovec* iov, unsigned count, uint64_t offset, bool dsync, uint64_t token);
  [[nodiscard]] bool fdatasync(int fd, uint64_t token);
  [[nodiscard]] bool fallocate(int fd, int mode, uint64_t offset, uint64_t length, uint64_t token);
  // Hands queued operations to the kernel. Returns 0 or -errno.
  int submit();

  // Calls on_complete(token, result) for every finished operation; returns how many.
  size_t reap(const std::function<void(uint64_t token, int32_t result)>& on_complete);
  // Blocks until at least one operation finished (no-op if none is in flight).
  void wait();
  // Blocks until every operation in flight has finished (their completions
  // stay queued for reap()).
  void wait_all();

 private:
  ::io_uring_sqe* next_sqe();

  std::unique_ptr<struct io_uring> ring_;
  UniqueFd event_fd_;
  unsigned depth_ = 0;
  unsigned in_flight_ = 0;
};

}  // namespace wren::blk
