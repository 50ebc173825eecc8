// The floor: what moving a frame through the TAPs costs without any VMM.
// The benchmark plays the VMM on the guest TAP with the system calls a VMM
// cannot avoid (one writev of header + frame per transmitted frame, one read
// of up to Wren's largest frame per received frame), from and into memory
// laid out like the fake guest's buffers (`batch` transmit buffers; receive
// frames placed one after another in a ring of 1024 pages, wrapping), and
// the peer does exactly what it does in the Wren benchmarks.
#include <sys/uio.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/micro/bench_frames.h"
#include "bench/micro/benchmarks.h"
#include "bench/micro/tap_pair.h"
#include "virtio/net/net_device.h"

namespace wren::bench {

namespace {

void raw_tx(benchmark::State& state, TapPair& pair) {
  const size_t frame_len = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  pair.reset();
  const auto joined = make_frame(frame_len, kGuestMac, kPeerMac).joined();
  std::vector<std::vector<uint8_t>> buffers(static_cast<size_t>(batch), joined);
  std::vector<uint8_t> peer_buffer(NetDevice::kMaxRxFrameBytes);
  std::string error;
  const ThreadTimes start = ThreadTimes::now();
  for (auto _ : state) {
    for (auto& b : buffers)
      if (iovec iov[2] = {{b.data(), kHeaderSize}, {b.data() + kHeaderSize, frame_len}};
          ::writev(pair.guest_fd(), iov, 2) != static_cast<ssize_t>(kHeaderSize + frame_len)) {
        state.SkipWithError("writev to the guest TAP failed");
        return;
      }
    if (!receive_frames(pair.peer_fd(), peer_buffer, kHeaderSize + frame_len, batch, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
  }
  set_frame_counters(state, batch, start);
}

void raw_rx(benchmark::State& state, TapPair& pair) {
  const size_t frame_len = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  pair.reset();
  const auto joined = make_frame(frame_len, kPeerMac, kGuestMac).joined();
  const size_t pages_per_frame = (joined.size() + kGuestRxBufferSize - 1) / kGuestRxBufferSize;
  std::vector<uint8_t> ring(size_t{kGuestQueueSize} * kGuestRxBufferSize + NetDevice::kMaxRxFrameBytes);
  size_t page = 0;
  std::string error;
  const ThreadTimes start = ThreadTimes::now();
  for (auto _ : state) {
    if (!send_frames(pair.peer_fd(), joined, batch, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    for (int i = 0; i < batch; ++i) {
      if (page + pages_per_frame > kGuestQueueSize) page = 0;
      if (::read(pair.guest_fd(), ring.data() + page * kGuestRxBufferSize, NetDevice::kMaxRxFrameBytes) !=
          static_cast<ssize_t>(joined.size())) {
        state.SkipWithError("read from the guest TAP failed or was short");
        return;
      }
      page += pages_per_frame;
    }
  }
  set_frame_counters(state, batch, start);
}

}  // namespace

void register_raw_benchmarks(TapPair& pair) {
  register_sizes(benchmark::RegisterBenchmark("raw_tx", raw_tx, std::ref(pair)));
  register_sizes(benchmark::RegisterBenchmark("raw_rx", raw_rx, std::ref(pair)));
}

}  // namespace wren::bench
