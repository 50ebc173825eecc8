#pragma once
// QEMU's MigrationInfo (qapi/migration.json) from the migration
// controller's own status object, for query-migrate and the MIGRATION event.
#include <cstdint>
#include <nlohmann/json.hpp>

namespace wren {

// `wren_status` as MigrationController::query() returns it; `ram_bytes` is
// the guest's RAM size. Wren's own fields stay under the member "wren".
nlohmann::json migration_info_json(const nlohmann::json& wren_status, uint64_t ram_bytes);

// The MIGRATION event's data: {"status": MigrationStatus}, plus "wren".
nlohmann::json migration_event_json(const nlohmann::json& wren_status);

}  // namespace wren
