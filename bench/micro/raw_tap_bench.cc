// The floor: what moving a frame through the TAPs costs without any VMM.
// The benchmark plays the VMM on the guest TAP with the same system calls a
// VMM cannot avoid (one writev of header + frame per transmitted frame, one
// read per received frame, into a buffer as large as Wren's), and the peer
// does exactly what it does in the Wren benchmarks.
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
  auto f = make_frame(frame_len, kGuestMac, kPeerMac);
  iovec iov[2] = {{f.header.data(), f.header.size()}, {f.frame.data(), f.frame.size()}};
  std::vector<uint8_t> peer_buffer(NetDevice::kMaxRxFrameBytes);
  std::string error;
  const ThreadTimes start = ThreadTimes::now();
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i)
      if (::writev(pair.guest_fd(), iov, 2) != static_cast<ssize_t>(kHeaderSize + frame_len)) {
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
  std::vector<uint8_t> vmm_buffer(NetDevice::kMaxRxFrameBytes);
  std::string error;
  const ThreadTimes start = ThreadTimes::now();
  for (auto _ : state) {
    if (!send_frames(pair.peer_fd(), joined, batch, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    for (int i = 0; i < batch; ++i)
      if (::read(pair.guest_fd(), vmm_buffer.data(), vmm_buffer.size()) != static_cast<ssize_t>(joined.size())) {
        state.SkipWithError("read from the guest TAP failed or was short");
        return;
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
