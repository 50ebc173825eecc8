#pragma once
// Feature-bit helpers shared by every virtio device and transport. Feature
// words are 64-bit masks indexed by the spec's bit numbers.
#include <cstdint>

namespace wren {

constexpr uint64_t feature_bit(unsigned bit) { return uint64_t{1} << bit; }
constexpr bool has_feature(uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

}  // namespace wren
