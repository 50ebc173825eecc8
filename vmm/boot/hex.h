#pragma once
// "0x1f000" formatting for addresses in error messages.
#include <cstdint>
#include <cstdio>
#include <string>

namespace wren {

inline std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace wren
