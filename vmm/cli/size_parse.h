#pragma once
// Parses human sizes such as "512M", "2G", "65536K" or "1048576" (bytes).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wren {

struct SizeParse {
  std::optional<uint64_t> bytes;
  std::string error;  // set when bytes is empty
};

SizeParse parse_size(std::string_view text);

}  // namespace wren
