#pragma once
// `wren migrate`: a control-socket client that starts a live migration on a
// running wren and prints its progress until it ends.
#include "vmm/cli/cli.h"

namespace wren {

// Returns the process exit status: 0 when the migration completed, 1 when it
// failed or was cancelled (the reason goes to stderr), 2 when the control
// socket cannot be used.
int run_migrate_command(const MigrateCommand& command);

}  // namespace wren
