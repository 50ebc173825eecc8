// net_micro: the datapath microbenchmark (bench/micro.sh runs it in a
// private network namespace it builds). Google Benchmark's own flags work
// as usual; ours name the two bridged TAPs:
//   net_micro --guest-tap=NAME --peer-tap=NAME [--benchmark_...]
#include <sys/resource.h>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "bench/micro/bench_frames.h"
#include "bench/micro/benchmarks.h"
#include "bench/micro/tap_pair.h"

namespace wren::bench {

benchmark::internal::Benchmark* register_sizes(benchmark::internal::Benchmark* b) {
  return b
      ->ArgsProduct({{static_cast<int64_t>(kFrameSizes[0]), static_cast<int64_t>(kFrameSizes[1]),
                      static_cast<int64_t>(kFrameSizes[2])},
                     {1, 32}})
      ->ArgNames({"frame", "batch"});
}

ThreadTimes ThreadTimes::now() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  auto ns = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_usec) * 1e3; };
  return {ns(u.ru_utime), ns(u.ru_stime)};
}

void set_frame_counters(benchmark::State& state, int batch, const ThreadTimes& start) {
  const ThreadTimes end = ThreadTimes::now();
  const auto frames = static_cast<double>(state.iterations()) * batch;
  state.counters["user_ns"] = (end.user_ns - start.user_ns) / frames;
  state.counters["sys_ns"] = (end.sys_ns - start.sys_ns) / frames;
  state.counters["frame"] = benchmark::Counter(frames, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(static_cast<int64_t>(frames));
}

}  // namespace wren::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string guest_tap = "wm-guest", peer_tap = "wm-peer";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--guest-tap="))
      guest_tap = arg.substr(12);
    else if (arg.starts_with("--peer-tap="))
      peer_tap = arg.substr(11);
    else {
      std::fprintf(stderr, "net_micro: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  std::unique_ptr<wren::bench::TapPair> pair;
  try {
    pair = std::make_unique<wren::bench::TapPair>(guest_tap, peer_tap);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "net_micro: %s\n", e.what());
    return 1;
  }
  wren::bench::register_benchmarks(*pair);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
