// The floor: what moving a frame through the TAPs costs without any VMM.
// The benchmark plays the VMM on the guest TAP with the system calls a VMM
// cannot avoid (one writev of header + frame per transmitted frame, one read
// of up to Wren's largest frame per received frame), from and into memory
// laid out like the fake guest's buffers (`batch` transmit buffers; receive
// frames placed one after another in a ring of 1024 pages, wrapping), and
// the peer does exactly what it does in the Wren paths.
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bench/micro/bench_frames.h"
#include "bench/micro/benchmarks.h"
#include "bench/micro/frame_path.h"
#include "bench/micro/tap_pair.h"
#include "virtio/net/net_device.h"

namespace wren::bench {

namespace {

class RawTx : public FramePath {
 public:
  RawTx(TapPair& pair, size_t frame_len, int batch)
      : pair_(pair),
        frame_len_(frame_len),
        buffers_(static_cast<size_t>(batch), make_frame(frame_len, kGuestMac, kPeerMac).joined()),
        peer_buffer_(NetDevice::kMaxRxFrameBytes) {}
  std::string start() override {
    std::string error;
    return step(error) ? "" : error;
  }
  bool step(std::string& error) override {
    for (auto& b : buffers_)
      if (iovec iov[2] = {{b.data(), kHeaderSize}, {b.data() + kHeaderSize, frame_len_}};
          ::writev(pair_.guest_fd(), iov, 2) != static_cast<ssize_t>(kHeaderSize + frame_len_)) {
        error = "writev to the guest TAP failed";
        return false;
      }
    return receive_frames(pair_.peer_fd(), peer_buffer_, kHeaderSize + frame_len_, static_cast<int>(buffers_.size()),
                          error);
  }

 private:
  TapPair& pair_;
  size_t frame_len_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::vector<uint8_t> peer_buffer_;
};

class RawRx : public FramePath {
 public:
  RawRx(TapPair& pair, size_t frame_len, int batch)
      : pair_(pair),
        batch_(batch),
        joined_(make_frame(frame_len, kPeerMac, kGuestMac).joined()),
        pages_per_frame_((joined_.size() + kGuestRxBufferSize - 1) / kGuestRxBufferSize),
        ring_(size_t{kGuestQueueSize} * kGuestRxBufferSize + NetDevice::kMaxRxFrameBytes) {}
  std::string start() override {
    std::string error;
    return step(error) ? "" : error;
  }
  bool step(std::string& error) override {
    if (!send_frames(pair_.peer_fd(), joined_, batch_, error)) return false;
    for (int i = 0; i < batch_; ++i) {
      if (page_ + pages_per_frame_ > kGuestQueueSize) page_ = 0;
      if (::read(pair_.guest_fd(), ring_.data() + page_ * kGuestRxBufferSize, NetDevice::kMaxRxFrameBytes) !=
          static_cast<ssize_t>(joined_.size())) {
        error = "read from the guest TAP failed or was short";
        return false;
      }
      page_ += pages_per_frame_;
    }
    return true;
  }

 private:
  TapPair& pair_;
  int batch_;
  std::vector<uint8_t> joined_;
  size_t pages_per_frame_;
  std::vector<uint8_t> ring_;
  size_t page_ = 0;
};

}  // namespace

std::unique_ptr<FramePath> raw_tx_path(TapPair& pair, size_t frame_len, int batch) {
  return std::make_unique<RawTx>(pair, frame_len, batch);
}
std::unique_ptr<FramePath> raw_rx_path(TapPair& pair, size_t frame_len, int batch) {
  return std::make_unique<RawRx>(pair, frame_len, batch);
}

}  // namespace wren::bench
