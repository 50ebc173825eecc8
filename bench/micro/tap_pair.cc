#include "bench/micro/tap_pair.h"

#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>
#include "virtio/net/virtio_net_abi.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bench/micro/bench_frames.h"
#include "virtio/net/ctrl_command.h"

namespace wren::bench {

namespace {

constexpr uint64_t kOffloads =
    feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_TSO4) | feature_bit(VIRTIO_NET_F_GUEST_TSO6);

void configure(Tap& tap) {
  if (!tap.set_vnet_header_size(static_cast<int>(kHeaderSize)) || !tap.set_offloads(kOffloads))
    throw std::runtime_error("TAP " + tap.name() + " refused a 12-byte header or TSO offloads");
}

void drain(int fd) {
  static std::vector<uint8_t> sink(70000);
  while (::read(fd, sink.data(), sink.size()) >= 0) {
  }
}

// Forwards everything to a Tap owned by the TapPair.
class BorrowedTap : public NetBackend {
 public:
  explicit BorrowedTap(Tap& tap) : tap_(tap) {}
  std::string name() const override { return tap_.name(); }
  uint16_t queue_count() const override { return tap_.queue_count(); }
  int queue_fd(uint16_t index) const override { return tap_.queue_fd(index); }
  bool set_vnet_header_size(int bytes) override { return tap_.set_vnet_header_size(bytes); }
  bool set_offloads(uint64_t offloads) override { return tap_.set_offloads(offloads); }
  uint64_t supported_guest_offloads() const override { return tap_.supported_guest_offloads(); }
  bool set_queue_enabled(uint16_t index, bool enabled) override { return tap_.set_queue_enabled(index, enabled); }
  bool apply(const HostFilter& filter) override { return tap_.apply(filter); }

 private:
  Tap& tap_;
};

}  // namespace

TapPair::TapPair(const std::string& guest_tap, const std::string& peer_tap, std::chrono::milliseconds settle)
    : guest_(Tap::open(guest_tap, 1)), peer_(Tap::open(peer_tap, 1)) {
  reset();
  wait_until_passing(settle);
  reset();
}

std::unique_ptr<NetBackend> TapPair::borrow_guest() const { return std::make_unique<BorrowedTap>(*guest_); }

void TapPair::reset() {
  configure(*guest_);
  configure(*peer_);
  if (!guest_->apply(HostFilter{})) throw std::runtime_error("could not clear the receive filter of " + guest_->name());
  drain(guest_fd());
  drain(peer_fd());
}

size_t TapPair::read_frame(int fd, std::span<uint8_t> buffer, std::chrono::milliseconds timeout) {
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EAGAIN && errno != EINTR) return 0;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return 0;
  }
}

// Until the bridge forwards both ways (its ports come up asynchronously).
void TapPair::wait_until_passing(std::chrono::milliseconds settle) {
  const auto to_guest = make_frame(64, kPeerMac, kGuestMac).joined();
  const auto to_peer = make_frame(64, kGuestMac, kPeerMac).joined();
  std::vector<uint8_t> buffer(70000);
  const auto deadline = std::chrono::steady_clock::now() + settle;
  bool guest_ok = false, peer_ok = false;
  while (!(guest_ok && peer_ok)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("frames do not pass between " + guest_->name() + " and " + peer_->name() +
                               " (are both in one bridge, up, with STP off?)");
    if (!guest_ok) {
      [[maybe_unused]] auto n = ::write(peer_fd(), to_guest.data(), to_guest.size());
      guest_ok = read_frame(guest_fd(), buffer, std::chrono::milliseconds(50)) == to_guest.size();
    }
    if (!peer_ok) {
      [[maybe_unused]] auto n = ::write(guest_fd(), to_peer.data(), to_peer.size());
      peer_ok = read_frame(peer_fd(), buffer, std::chrono::milliseconds(50)) == to_peer.size();
    }
  }
}

bool send_frames(int fd, std::span<const uint8_t> joined, int count, std::string& error) {
  for (int i = 0; i < count; ++i)
    if (::write(fd, joined.data(), joined.size()) != static_cast<ssize_t>(joined.size())) {
      error = "write to a TAP failed: " + std::string(std::strerror(errno));
      return false;
    }
  return true;
}

bool receive_frames(int fd, std::span<uint8_t> buffer, size_t len, int count, std::string& error) {
  int strays = 0;  // frames of another length (e.g. the kernel's own, as a link comes up)
  for (int i = 0; i < count; ++i) {
    const size_t n = TapPair::read_frame(fd, buffer, std::chrono::seconds(1));
    if (n == len) continue;
    if (n != 0 && ++strays <= 4) {
      --i;
      continue;
    }
    error = n == 0 ? "a frame was lost" : "frames of " + std::to_string(n) + " bytes, not " + std::to_string(len);
    return false;
  }
  return true;
}

}  // namespace wren::bench
