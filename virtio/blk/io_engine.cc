#include "virtio/blk/io_engine.h"

#include <liburing.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <system_error>

namespace wren::blk {

IoEngine::IoEngine(unsigned depth) : ring_(std::make_unique<struct io_uring>()), depth_(depth) {
  const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  event_fd_ = UniqueFd(efd);
  // The completion ring is twice the submission ring by default: a full
  // device never overflows it.
  if (const int r = io_uring_queue_init(depth, ring_.get(), 0); r < 0)
    throw std::system_error(-r, std::generic_category(), "io_uring_queue_init");
  if (const int r = io_uring_register_eventfd(ring_.get(), efd); r < 0) {
    io_uring_queue_exit(ring_.get());
    throw std::system_error(-r, std::generic_category(), "io_uring_register_eventfd");
  }
}

IoEngine::~IoEngine() {
  // Operations still running write into buffers we are about to forget:
  // wait for them first.
  while (in_flight_ > 0) {
    wait();
    reap([](uint64_t, int32_t) {});
  }
  io_uring_queue_exit(ring_.get());
}

io_uring_sqe* IoEngine::next_sqe() {
  if (in_flight_ >= depth_) return nullptr;
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (sqe) ++in_flight_;
  return sqe;
}

bool IoEngine::readv(int fd, const iovec* iov, unsigned count, uint64_t offset, uint64_t token) {
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) return false;
  io_uring_prep_readv(sqe, fd, iov, count, offset);
  io_uring_sqe_set_data64(sqe, token);
  return true;
}

bool IoEngine::writev(int fd, const iovec* iov, unsigned count, uint64_t offset, bool dsync, uint64_t token) {
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) return false;
  io_uring_prep_writev2(sqe, fd, iov, count, offset, dsync ? RWF_DSYNC : 0);
  io_uring_sqe_set_data64(sqe, token);
  return true;
}

bool IoEngine::fdatasync(int fd, uint64_t token) {
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) return false;
  io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64(sqe, token);
  return true;
}

bool IoEngine::fallocate(int fd, int mode, uint64_t offset, uint64_t length, uint64_t token) {
  io_uring_sqe* sqe = next_sqe();
  if (!sqe) return false;
  io_uring_prep_fallocate(sqe, fd, mode, static_cast<off_t>(offset), static_cast<off_t>(length));
  io_uring_sqe_set_data64(sqe, token);
  return true;
}

int IoEngine::submit() {
  const int r = io_uring_submit(ring_.get());
  return r < 0 ? r : 0;
}

size_t IoEngine::reap(const std::function<void(uint64_t, int32_t)>& on_complete) {
  uint64_t ignored = 0;
  while (::read(event_fd_.get(), &ignored, sizeof ignored) > 0) {
  }
  size_t n = 0;
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(ring_.get(), &cqe) == 0 && cqe) {
    const uint64_t token = io_uring_cqe_get_data64(cqe);
    const int32_t res = cqe->res;
    io_uring_cqe_seen(ring_.get(), cqe);
    --in_flight_;
    ++n;
    on_complete(token, res);
  }
  return n;
}

void IoEngine::wait() {
  if (in_flight_ == 0) return;
  (void)io_uring_submit(ring_.get());
  io_uring_cqe* cqe = nullptr;
  int r;
  do {
    r = io_uring_wait_cqe(ring_.get(), &cqe);
  } while (r == -EINTR);
}

}  // namespace wren::blk

namespace wren::blk {

void IoEngine::wait_all() {
  if (in_flight_ == 0) return;
  (void)io_uring_submit(ring_.get());
  io_uring_cqe* cqe = nullptr;
  int r;
  do {
    r = io_uring_wait_cqe_nr(ring_.get(), &cqe, in_flight_);
  } while (r == -EINTR);
}

}  // namespace wren::blk
