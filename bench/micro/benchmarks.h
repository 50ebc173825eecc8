#pragma once
// What the benchmark files register, and the conventions they share.
#include <benchmark/benchmark.h>

namespace wren::bench {

class TapPair;

// The fake guest's rings: receive buffers of one page each, as many as the
// queue holds (room for 32 TSO frames). The raw floor moves its frames
// through the same amount of memory, so that both pay the same cache misses.
inline constexpr uint16_t kGuestQueueSize = 1024;
inline constexpr uint32_t kGuestRxBufferSize = 4096;

// Frame sizes x batch sizes (frames per wakeup: per kick on TX, per
// readable-fd wakeup on RX). Timed in this thread's CPU time: every step,
// the kernel's included, runs inside this thread's system calls, and on a
// shared machine wall time mostly measures the other tenants.
benchmark::internal::Benchmark* register_sizes(benchmark::internal::Benchmark* b);

// This thread's user and system CPU time so far.
struct ThreadTimes {
  double user_ns = 0;
  double sys_ns = 0;
  static ThreadTimes now();
};
// Reports "frame" (CPU seconds per frame), frames/s, and "user_ns" /
// "sys_ns" per frame since `start`, for `batch` frames per iteration.
void set_frame_counters(benchmark::State& state, int batch, const ThreadTimes& start);

// Registers every benchmark (runner.cc).
void register_benchmarks(TapPair& pair);

}  // namespace wren::bench
