#pragma once
// Command-line parsing for `wren`: turns argv into a validated RunConfig, or
// a message that tells the user exactly what is wrong.
#include <string>
#include <variant>

#include "vmm/cli/run_config.h"

namespace wren {

struct CliExit {
  int status;           // exit status to return (0 for --help)
  std::string message;  // printed to stderr (or stdout for help)
};

// `wren snapshot inspect FILE`.
struct SnapshotInspectCommand {
  std::string path;
};

// `wren migrate --api unix:PATH tcp:HOST:PORT`: asks the VMM behind the
// control socket to migrate its guest, and follows the progress.
struct MigrateCommand {
  std::string api_path;
  std::string uri;
  uint32_t downtime_ms = 300;
  uint32_t timeout_s = 600;
  uint32_t max_bandwidth_mbps = 0;  // 0: unlimited
};

using Command = std::variant<RunConfig, CliExit, SnapshotInspectCommand, MigrateCommand>;

// Parses `wren run ...`, `wren snapshot inspect FILE` or `wren migrate ...`.
// Returns what to do, or CliExit for --help / errors.
Command parse_command_line(int argc, const char* const* argv);

// Pieces of the parser, exposed for unit tests.
std::variant<NetConfig, std::string> parse_net_option(const std::string& text);
std::variant<SerialConfig, std::string> parse_serial_option(const std::string& text);
std::variant<TestExitConfig, std::string> parse_test_exit_option(const std::string& text);

}  // namespace wren
