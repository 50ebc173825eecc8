#pragma once
// "key=value,key=value" option lists as used by --net and --test-exit.
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace wren {

using KeyValueList = std::vector<std::pair<std::string, std::string>>;

// Returns the pairs, or an error message for an item without '=' or a key given twice.
std::variant<KeyValueList, std::string> parse_key_value_list(const std::string& text);

}  // namespace wren
