#include "migrate/payload.h"

namespace wren::migrate {

bool valid_payload_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string describe(std::string_view kind, uint32_t version, std::string_view instance) {
  return std::string(kind) + " v" + std::to_string(version) + " (" + std::string(instance) + ")";
}

std::string describe(const PayloadId& id) { return id.kind + " (" + id.instance + ")"; }

}  // namespace wren::migrate
