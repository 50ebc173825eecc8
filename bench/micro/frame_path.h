#pragma once
// One way of moving frames between the guest side and the peer: the raw
// floor (the benchmark plays the VMM with bare system calls) or Wren's
// NetDevice with a fake guest. A step moves one batch and checks that
// every frame arrived.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <memory>
#include <string>

namespace wren::bench {

class TapPair;

class FramePath {
 public:
  virtual ~FramePath() = default;
  // Moves one checked frame first; empty on success, else what failed.
  [[nodiscard]] virtual std::string start() = 0;
  // Moves one batch; false (with `error`) if a frame went astray.
  [[nodiscard]] virtual bool step(std::string& error) = 0;
  // After the timed loop: empty, or why the results cannot be trusted.
  [[nodiscard]] virtual std::string finish() { return ""; }
  // Interrupts sent per frame since start(); negative if not applicable.
  virtual double interrupts_per_frame(double /*frames*/) const { return -1; }
};

std::unique_ptr<FramePath> raw_tx_path(TapPair& pair, size_t frame_len, int batch);
std::unique_ptr<FramePath> raw_rx_path(TapPair& pair, size_t frame_len, int batch);
std::unique_ptr<FramePath> wren_tx_path(TapPair& pair, size_t frame_len, int batch);
std::unique_ptr<FramePath> wren_rx_path(TapPair& pair, size_t frame_len, int batch);

}  // namespace wren::bench
