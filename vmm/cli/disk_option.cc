#include "vmm/cli/disk_option.h"

#include <charconv>

#include "vmm/cli/key_value_list.h"

namespace wren {

namespace {
constexpr uint16_t kMaxDiskQueues = 16;  // BlkDevice's kBlkMaxQueues
constexpr size_t kMaxSerial = 20;        // VIRTIO_BLK_ID_BYTES
}  // namespace

std::variant<DiskConfig, std::string> parse_disk_option(const std::string& text) {
  auto kv = parse_key_value_list(text);
  if (auto* err = std::get_if<std::string>(&kv)) return "--disk: " + *err;
  DiskConfig disk;
  for (const auto& [key, value] : std::get<KeyValueList>(kv)) {
    if (key == "path") {
      if (value.empty()) return std::string("--disk: path must not be empty");
      disk.path = value;
    } else if (key == "readonly") {
      if (value == "on")
        disk.read_only = true;
      else if (value == "off")
        disk.read_only = false;
      else
        return std::string("--disk: readonly must be on or off");
    } else if (key == "serial") {
      if (value.size() > kMaxSerial) return "--disk: serial must be at most " + std::to_string(kMaxSerial) + " bytes";
      disk.serial = value;
    } else if (key == "transport") {
      if (value == "modern")
        disk.transitional = false;
      else if (value == "transitional")
        disk.transitional = true;
      else
        return std::string("--disk: transport must be modern or transitional");
    } else if (key == "queues") {
      uint16_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() || n < 1 || n > kMaxDiskQueues)
        return "--disk: queues must be 1 to " + std::to_string(kMaxDiskQueues);
      disk.queues = n;
    } else if (key == "cache") {
      if (value == "writeback")
        disk.direct = false;
      else if (value == "none")
        disk.direct = true;
      else
        return std::string("--disk: cache must be writeback or none");
    } else {
      return "--disk: unknown key '" + key + "' (known: path, readonly, serial, transport, queues, cache)";
    }
  }
  if (disk.path.empty()) return std::string("--disk: path=FILE is required");
  return disk;
}

}  // namespace wren
