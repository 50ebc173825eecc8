#include "vmm/api/migration_report.h"

#include <string>

namespace wren {

namespace {

constexpr uint64_t kPageSize = 4096;

uint64_t number(const nlohmann::json& s, const char* key) {
  return s.contains(key) && s[key].is_number() ? s[key].get<uint64_t>() : 0;
}

// Wren's statuses are a subset of QEMU's MigrationStatus; anything else
// (there is nothing else today) reads as "failed" rather than an unknown enum.
std::string qemu_status(const nlohmann::json& s) {
  const std::string status = s.value("status", std::string("none"));
  for (const char* known : {"none", "setup", "active", "completed", "failed", "cancelled"})
    if (status == known) return status;
  return "failed";
}

}  // namespace

nlohmann::json migration_info_json(const nlohmann::json& s, uint64_t ram_bytes) {
  const std::string status = qemu_status(s);
  nlohmann::json info = {{"wren", s}};
  if (status == "none") return info;  // QEMU answers {} before any migration
  info["status"] = status;
  const uint64_t pages = number(s, "pages_sent");
  const uint64_t dirty = number(s, "dirty_pages");
  const bool done = status != "active" && status != "setup";
  info["ram"] = {{"transferred", number(s, "bytes")},
                 {"remaining", done ? 0 : dirty * kPageSize},
                 {"total", ram_bytes},
                 {"duplicate", 0},
                 {"normal", pages},
                 {"normal-bytes", pages * kPageSize},
                 {"dirty-pages-rate", 0},
                 {"mbps", s.contains("mbps") && s["mbps"].is_number() ? s["mbps"].get<double>() * 8 : 0.0},
                 {"dirty-sync-count", number(s, "round")},
                 {"postcopy-requests", 0},
                 {"page-size", kPageSize},
                 {"multifd-bytes", 0},
                 {"pages-per-second", 0},
                 {"precopy-bytes", number(s, "bytes")},
                 {"downtime-bytes", 0},
                 {"postcopy-bytes", 0}};
  info["total-time"] = done ? number(s, "total_ms") : number(s, "elapsed_ms");
  if (status == "completed") info["downtime"] = number(s, "downtime_ms");
  if (!done && s.contains("estimated_downtime_ms") && s["estimated_downtime_ms"].is_number())
    info["expected-downtime"] = number(s, "estimated_downtime_ms");
  if ((status == "failed" || status == "cancelled") && s.contains("error") && s["error"].is_string())
    info["error-desc"] = s["error"];
  return info;
}

nlohmann::json migration_event_json(const nlohmann::json& s) { return {{"status", qemu_status(s)}, {"wren", s}}; }

}  // namespace wren
