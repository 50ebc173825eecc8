#pragma once
// Wren's version: `wren --version`, and the QMP greeting and query-version
// (which carry it in QEMU's VersionInfo shape, package "wren").
#include <string>

namespace wren {

struct WrenVersion {
  unsigned major, minor, micro;
};

inline constexpr WrenVersion kWrenVersion{0, 16, 0};

inline std::string wren_version_string() {
  return std::to_string(kWrenVersion.major) + "." + std::to_string(kWrenVersion.minor) + "." +
         std::to_string(kWrenVersion.micro);
}

}  // namespace wren
