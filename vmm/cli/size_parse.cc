#include "vmm/cli/size_parse.h"

#include <cctype>
#include <charconv>

namespace wren {

SizeParse parse_size(std::string_view text) {
  const std::string shown = "'" + std::string(text) + "'";
  if (text.empty()) return {std::nullopt, "empty size"};
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data())
    return {std::nullopt, "invalid size " + shown + " (expected a number with an optional K, M, G or T suffix)"};
  std::string_view suffix(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  unsigned shift = 0;
  if (suffix.size() == 1 || (suffix.size() == 3 && (suffix.substr(1) == "iB" || suffix.substr(1) == "ib"))) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: return {std::nullopt, "invalid size suffix in " + shown + " (use K, M, G or T)"};
    }
  } else if (!suffix.empty()) {
    return {std::nullopt, "invalid size suffix in " + shown + " (use K, M, G or T)"};
  }
  if (shift && value > (UINT64_MAX >> shift)) return {std::nullopt, "size " + shown + " is too large"};
  return {value << shift, {}};
}

}  // namespace wren
