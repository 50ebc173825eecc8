// How paths become benchmarks:
//   raw_tx, raw_rx, wren_tx, wren_rx   one path alone (absolute figures,
//                                      with the user/system split)
//   tx, rx                             the raw and the Wren path of one
//                                      direction in alternating blocks of
//                                      kBlock steps, each block timed on
//                                      its own: both see the same moments of
//                                      a shared machine, so their ratio
//                                      holds still when the absolute
//                                      figures move (the README's table)
#include <time.h>

#include <string>

#include "bench/micro/benchmarks.h"
#include "bench/micro/frame_path.h"
#include "bench/micro/tap_pair.h"

namespace wren::bench {

namespace {

using PathFactory = std::unique_ptr<FramePath> (*)(TapPair&, size_t, int);

constexpr int kBlock = 16;

double thread_cpu_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

void single(benchmark::State& state, TapPair& pair, PathFactory factory) {
  const auto frame_len = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  pair.reset();
  auto path = factory(pair, frame_len, batch);
  if (auto err = path->start(); !err.empty()) return state.SkipWithError(err.c_str());
  std::string error;
  const ThreadTimes start = ThreadTimes::now();
  for (auto _ : state)
    if (!path->step(error)) return state.SkipWithError(error.c_str());
  if (auto err = path->finish(); !err.empty()) return state.SkipWithError(err.c_str());
  set_frame_counters(state, batch, start);
  const double frames = static_cast<double>(state.iterations()) * batch;
  if (const double irq = path->interrupts_per_frame(frames); irq >= 0) state.counters["irq_per_frame"] = irq;
}

void paired(benchmark::State& state, TapPair& pair, PathFactory raw_factory, PathFactory wren_factory) {
  const auto frame_len = static_cast<size_t>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  pair.reset();
  auto wren = wren_factory(pair, frame_len, batch);
  auto raw = raw_factory(pair, frame_len, batch);
  if (auto err = wren->start(); !err.empty()) return state.SkipWithError(err.c_str());
  if (auto err = raw->start(); !err.empty()) return state.SkipWithError(err.c_str());
  std::string error;
  double ns[2] = {0, 0};  // [raw, wren]
  double frames[2] = {0, 0};
  int current = 1, left = 0;
  double mark = thread_cpu_ns();
  for (auto _ : state) {
    if (left == 0) {
      const double now = thread_cpu_ns();
      ns[current] += now - mark;
      mark = now;
      current = 1 - current;
      left = kBlock;
    }
    if (!(current ? wren : raw)->step(error)) return state.SkipWithError(error.c_str());
    frames[current] += batch;
    --left;
  }
  ns[current] += thread_cpu_ns() - mark;
  if (auto err = wren->finish(); !err.empty()) return state.SkipWithError(err.c_str());
  if (frames[0] == 0 || frames[1] == 0) return;  // the library's first, tiny trial run: nothing to report
  state.counters["raw_ns"] = ns[0] / frames[0];
  state.counters["wren_ns"] = ns[1] / frames[1];
  state.counters["ratio"] = (ns[1] / frames[1]) / (ns[0] / frames[0]);
  state.counters["irq_per_frame"] = wren->interrupts_per_frame(frames[1]);
  state.SetItemsProcessed(static_cast<int64_t>(frames[0] + frames[1]));
}

}  // namespace

void register_benchmarks(TapPair& pair) {
  register_sizes(benchmark::RegisterBenchmark("tx", paired, std::ref(pair), raw_tx_path, wren_tx_path));
  register_sizes(benchmark::RegisterBenchmark("rx", paired, std::ref(pair), raw_rx_path, wren_rx_path));
  register_sizes(benchmark::RegisterBenchmark("raw_tx", single, std::ref(pair), raw_tx_path));
  register_sizes(benchmark::RegisterBenchmark("wren_tx", single, std::ref(pair), wren_tx_path));
  register_sizes(benchmark::RegisterBenchmark("raw_rx", single, std::ref(pair), raw_rx_path));
  register_sizes(benchmark::RegisterBenchmark("wren_rx", single, std::ref(pair), wren_rx_path));
}

}  // namespace wren::bench
