#pragma once
// --disk path=FILE[,readonly=on][,serial=STR][,transport=modern|transitional][,queues=N][,cache=writeback|none]
#include <string>
#include <variant>

#include "vmm/cli/run_config.h"

namespace wren {

inline constexpr const char* kDiskOptionHelp =
    "virtio-blk disk on a raw image: path=FILE[,readonly=on|off][,serial=STR][,transport=modern|transitional]"
    "[,queues=N][,cache=writeback|none]";

// The config, or a message naming the bad key. The file itself is checked
// when the machine opens it (missing, permission, locked).
std::variant<DiskConfig, std::string> parse_disk_option(const std::string& text);

}  // namespace wren
