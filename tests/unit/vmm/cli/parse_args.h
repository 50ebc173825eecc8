#pragma once
// Runs the real command-line parser on `wren ARGS...`.
#include <string>
#include <vector>

#include "vmm/cli/cli.h"

namespace wren {

inline Command parse_args(std::vector<std::string> args) {
  args.insert(args.begin(), "wren");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

}  // namespace wren
