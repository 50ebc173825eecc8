// wren: boots a guest from the command line. See README.md.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "vmm/cli/cli.h"
#include "vmm/cli/migrate_client.h"
#include "vmm/machine/exit_status.h"
#include "vmm/machine/machine.h"
#include "vmm/migration/snapshot_io.h"

int main(int argc, char** argv) {
  auto parsed = wren::parse_command_line(argc, argv);
  if (auto* exit = std::get_if<wren::CliExit>(&parsed)) {
    (exit->status == 0 ? std::cout : std::cerr) << exit->message << std::endl;
    return exit->status;
  }
  if (auto* inspect = std::get_if<wren::SnapshotInspectCommand>(&parsed))
    return wren::inspect_snapshot_command(inspect->path);
  if (auto* migrate = std::get_if<wren::MigrateCommand>(&parsed)) return wren::run_migrate_command(*migrate);
  // Logs go to stderr: stdout may be the guest's serial console.
  spdlog::set_default_logger(spdlog::stderr_color_mt("wren"));
  spdlog::set_pattern("wren: %l: %v");
  spdlog::set_level(spdlog::level::warn);
  if (const char* lvl = std::getenv("WREN_LOG")) spdlog::set_level(spdlog::level::from_str(lvl));
  try {
    wren::Machine machine(std::get<wren::RunConfig>(parsed));
    return machine.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wren: %s\n", e.what());
    return wren::exit_status::kHostFailure;
  }
}
