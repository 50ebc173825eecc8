#pragma once
// The destination end of live migration (`wren run --incoming tcp:ADDR:PORT`):
// waits for one migration and loads it into the machine, whose vCPUs have
// not run. Only a committed migration may be run.
#include <string>

#include "vmm/migration/host.h"

namespace wren {

// Listens on `spec`, receives the guest and returns once the source has
// committed. Throws std::runtime_error with the reason otherwise; the machine
// then holds a partial guest and must not run.
void receive_incoming_migration(const std::string& spec, MigrationHost& host);

}  // namespace wren
