#pragma once
// The parts of QEMU's QMP wire protocol that do not depend on a socket:
// the greeting, QEMU's error classes, event timestamps, and the checks
// QEMU applies to a request before it looks for the command
// (qapi/control.json, qapi/error.json, docs/interop/qmp-spec).
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

namespace wren {

// A connection starts in capabilities negotiation, where only
// `qmp_capabilities` is accepted, and moves to command mode once it has run.
enum class QmpMode { kNegotiating, kCommands };

// {"QMP": {"version": VersionInfo, "capabilities": []}}
nlohmann::json qmp_greeting();
// VersionInfo: {"qemu": {"major", "minor", "micro"}, "package"}.
nlohmann::json qmp_version_info();

// QEMU's ErrorClass names. Wren's own finer classes (InvalidArguments,
// MigrationActive, ...) go out as GenericError, with the Wren class kept in
// the extra member "wren-class".
bool is_qemu_error_class(const std::string& cls);
nlohmann::json qmp_error(const std::string& cls, const std::string& desc);

// {"seconds": s, "microseconds": us} since the epoch, as QEMU stamps events.
nlohmann::json qmp_timestamp(std::chrono::system_clock::time_point when);
nlohmann::json qmp_event(const std::string& name, nlohmann::json data, std::chrono::system_clock::time_point when);

// A request that passed QEMU's checks: a JSON object with exactly the
// members execute (string), arguments (object, optional) and id (any).
struct QmpRequest {
  std::string command;
  nlohmann::json arguments = nlohmann::json::object();
  std::optional<nlohmann::json> id;
};

// Parses one JSON text. On failure returns the error reply to send, which
// carries the id when the request had one (QEMU does the same).
[[nodiscard]] std::variant<QmpRequest, nlohmann::json> parse_qmp_request(const std::string& text);

}  // namespace wren
