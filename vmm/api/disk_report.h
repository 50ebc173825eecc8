#pragma once
// The control socket's view of the disks: `query-disks` (each disk's image,
// mode and counters: requests, bytes, errors, flushes, in flight).
#include <nlohmann/json.hpp>

#include "virtio/blk/blk_device.h"

namespace wren {

nlohmann::json disk_json(const BlkReport& report);

}  // namespace wren
