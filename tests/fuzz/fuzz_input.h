#pragma once
// Reads a fuzzer's input as a stream of little values; past the end it
// yields zeros, so a target never reads out of bounds or sizes by the input.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

namespace wren::fuzz {

struct Input {
  std::span<const uint8_t> data;
  size_t at = 0;
  bool empty() const { return at >= data.size(); }
  template <typename T>
  T get() {
    T v{};
    const size_t n = std::min(sizeof(T), data.size() - std::min(at, data.size()));
    std::memcpy(&v, data.data() + at, n);
    at += sizeof(T);
    return v;
  }
  // The next n bytes (fewer at the end); the position moves by n either way.
  std::span<const uint8_t> take(size_t n) {
    const size_t start = std::min(at, data.size());
    const size_t len = std::min(n, data.size() - start);
    at += n;
    return data.subspan(start, len);
  }
};

}  // namespace wren::fuzz
