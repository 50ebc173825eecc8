#pragma once
// Reading kernel and initrd files for the loaders, with errors a user can act on.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/boot/result.h"

namespace wren {

// Reads the whole regular file at `path`. `what` names it in error messages
// ("kernel", "initrd"): missing, unreadable, not a regular file, or empty.
[[nodiscard]] Result<std::vector<uint8_t>> read_boot_file(const std::string& path, std::string_view what);

}  // namespace wren
