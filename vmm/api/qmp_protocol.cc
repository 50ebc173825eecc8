#include "vmm/api/qmp_protocol.h"

#include <array>

#include "vmm/api/wren_version.h"

namespace wren {

using json = nlohmann::json;

json qmp_version_info() {
  return {{"qemu", {{"major", kWrenVersion.major}, {"minor", kWrenVersion.minor}, {"micro", kWrenVersion.micro}}},
          {"package", "wren " + wren_version_string()}};
}

json qmp_greeting() { return {{"QMP", {{"version", qmp_version_info()}, {"capabilities", json::array()}}}}; }

bool is_qemu_error_class(const std::string& cls) {
  static constexpr std::array<std::string_view, 5> kClasses = {"GenericError", "CommandNotFound", "DeviceNotActive",
                                                               "DeviceNotFound", "KVMMissingCap"};
  for (auto c : kClasses)
    if (c == cls) return true;
  return false;
}

json qmp_error(const std::string& cls, const std::string& desc) {
  json err = {{"class", is_qemu_error_class(cls) ? cls : "GenericError"}, {"desc", desc}};
  if (!is_qemu_error_class(cls)) err["wren-class"] = cls;
  return {{"error", std::move(err)}};
}

json qmp_timestamp(std::chrono::system_clock::time_point when) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  return {{"seconds", us / 1'000'000}, {"microseconds", us % 1'000'000}};
}

json qmp_event(const std::string& name, json data, std::chrono::system_clock::time_point when) {
  json msg = {{"event", name}, {"timestamp", qmp_timestamp(when)}};
  if (!data.is_null()) msg["data"] = std::move(data);
  return msg;
}

std::variant<QmpRequest, json> parse_qmp_request(const std::string& text) {
  const json request = json::parse(text, nullptr, false);
  if (request.is_discarded()) return qmp_error("GenericError", "JSON parse error, invalid JSON text");
  if (!request.is_object()) return qmp_error("GenericError", "QMP input must be a JSON object");
  QmpRequest out;
  if (request.contains("id")) out.id = request["id"];
  auto fail = [&](const std::string& desc) {
    json reply = qmp_error("GenericError", desc);
    if (out.id) reply["id"] = *out.id;
    return reply;
  };
  for (const auto& [key, value] : request.items()) {
    if (key == "execute") {
      if (!value.is_string()) return fail("QMP input member 'execute' must be a string");
      out.command = value.get<std::string>();
    } else if (key == "arguments") {
      if (!value.is_object()) return fail("QMP input member 'arguments' must be an object");
      out.arguments = value;
    } else if (key == "exec-oob") {
      return fail("QMP input member 'exec-oob' is not supported: out-of-band execution was not negotiated");
    } else if (key != "id") {
      return fail("QMP input member '" + key + "' is unexpected");
    }
  }
  if (!request.contains("execute")) return fail("QMP input lacks member 'execute'");
  return out;
}

}  // namespace wren
