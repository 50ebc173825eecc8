#pragma once
// The machine configuration both ends of a migration must share. The source
// sends its own; the destination compares it with the machine it built and
// refuses, naming the first difference, before any memory is sent.
//
// Devices carry their guest-visible configuration as strings, e.g. a
// virtio-net NIC: kind "virtio-net", name "net0", params {"features":
// "0x...", "queues": "2", "transport": "modern", "mac-change": "on"}.
// Everything must be equal (features too: the guest negotiated from the
// source's offer).
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "migrate/byte_io.h"

namespace wren::migrate::live {

struct DeviceConfig {
  std::string kind;
  std::string name;
  std::map<std::string, std::string> params;
  friend bool operator==(const DeviceConfig&, const DeviceConfig&) = default;
};

struct VmConfig {
  uint64_t memory_bytes = 0;
  uint32_t vcpus = 0;
  std::string cpu_model;
  std::vector<DeviceConfig> devices;  // in machine order
  friend bool operator==(const VmConfig&, const VmConfig&) = default;
};

// Caps of the encoding. Strings: 0..255 printable ASCII characters.
inline constexpr size_t kMaxConfigDevices = 64;
inline constexpr size_t kMaxDeviceParams = 64;

// The first difference as "what: source X, destination Y", or nullopt.
[[nodiscard]] std::optional<std::string> first_difference(const VmConfig& source, const VmConfig& destination);

// Config message payload: u64 memory, u32 vCPUs, string CPU model, u8 device
// count, per device: string kind, string name, u8 param count, per param:
// string key, string value (strings: u8 length + bytes; params in key order).
// Throws std::invalid_argument if `config` breaks a cap (a VMM bug).
[[nodiscard]] std::vector<uint8_t> encode_vm_config(const VmConfig& config);
// Throws ProtocolError (frame.h) for anything malformed or over a cap.
[[nodiscard]] VmConfig decode_vm_config(std::span<const uint8_t> payload);

}  // namespace wren::migrate::live
