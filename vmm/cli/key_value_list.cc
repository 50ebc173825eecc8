#include "vmm/cli/key_value_list.h"

#include <set>
#include <sstream>

namespace wren {

std::variant<KeyValueList, std::string> parse_key_value_list(const std::string& text) {
  KeyValueList out;
  std::set<std::string> seen;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) return "expected key=value, got '" + item + "'";
    auto key = item.substr(0, eq);
    if (!seen.insert(key).second) return "'" + key + "' given twice";
    out.emplace_back(std::move(key), item.substr(eq + 1));
  }
  if (out.empty()) return std::string("empty option list");
  return out;
}

}  // namespace wren
