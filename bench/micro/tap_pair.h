#pragma once
// The two TAPs of the microbenchmark, bridged in a private network namespace
// (bench/micro.sh builds it): the guest's TAP, on which Wren (or, for the raw
// floor, the benchmark itself) plays the VMM, and the peer TAP, the other end
// of the wire. A frame written to one comes out of the other, forwarded by
// the bridge inside the writer's system call.
//
// Both fds are opened once, with a 12-byte vnet header and TSO/checksum
// offloads on, and stay open for the whole run: closing a TAP drops its
// carrier, and the bridge port only forwards again after the kernel's link
// watcher (up to a second later) notices it is back.
#include <chrono>
#include <memory>
#include <span>
#include <string>

#include "virtio/net/net_backend.h"
#include "virtio/net/tap.h"

namespace wren::bench {

class TapPair {
 public:
  // Throws TapError / std::runtime_error (with the reason) if either TAP
  // cannot be opened or frames do not pass within `settle`.
  TapPair(const std::string& guest_tap, const std::string& peer_tap,
          std::chrono::milliseconds settle = std::chrono::seconds(5));

  int guest_fd() const { return guest_->queue_fd(0); }
  int peer_fd() const { return peer_->queue_fd(0); }
  // A NetBackend on the guest TAP for a NetDevice; it shares the fd (the
  // device dups it) and must not outlive this pair.
  std::unique_ptr<NetBackend> borrow_guest() const;
  // Back to the state every benchmark starts from: nothing queued on either
  // side, 12-byte headers, offloads on, no receive filter on the guest TAP.
  void reset();

  // Reads one frame (header included) into `buffer`, waiting up to
  // `timeout` for it; returns its length, 0 on timeout.
  static size_t read_frame(int fd, std::span<uint8_t> buffer, std::chrono::milliseconds timeout);

 private:
  void wait_until_passing(std::chrono::milliseconds settle);

  std::unique_ptr<Tap> guest_;
  std::unique_ptr<Tap> peer_;
};

// The other end of the wire, the same work in every benchmark: write
// `count` copies of `joined` (header + frame), or read `count` frames of
// `len` bytes (header included). False (with `error` set) if the kernel
// refused a frame, a frame did not come within a second, or it had another
// length.
[[nodiscard]] bool send_frames(int fd, std::span<const uint8_t> joined, int count, std::string& error);
[[nodiscard]] bool receive_frames(int fd, std::span<uint8_t> buffer, size_t len, int count, std::string& error);

}  // namespace wren::bench
