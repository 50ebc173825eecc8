#pragma once
// Command-line parsing for `wren`: turns argv into a validated RunConfig, or
// a message that tells the user exactly what is wrong.
#include <string>
#include <variant>

#include "vmm/run_config.h"

namespace wren {

struct CliExit {
  int status;           // exit status to return (0 for --help)
  std::string message;  // printed to stderr (or stdout for help)
};

// `wren snapshot inspect FILE`.
struct SnapshotInspectCommand {
  std::string path;
};

// Parses `wren run ...` or `wren snapshot inspect FILE`. Returns what to do,
// or CliExit for --help / errors.
std::variant<RunConfig, CliExit, SnapshotInspectCommand> parse_command_line(int argc, const char* const* argv);

// Pieces of the parser, exposed for unit tests.
std::variant<NetConfig, std::string> parse_net_option(const std::string& text);
std::variant<SerialConfig, std::string> parse_serial_option(const std::string& text);
std::variant<TestExitConfig, std::string> parse_test_exit_option(const std::string& text);

}  // namespace wren
