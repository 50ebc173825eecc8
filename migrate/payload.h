#pragma once
// One unit of migrated state: a component's State value, serialized, and
// labelled with what it is (kind), which encoding (version) and whose it is
// (instance). E.g. kind "virtio-net/rx-filter", version 2, instance "net0".
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wren::migrate {

// Caps every reader enforces before it allocates anything.
inline constexpr uint64_t kMaxPayloadBytes = 64ull << 20;  // one payload
inline constexpr uint64_t kMaxStateBytes = 256ull << 20;   // all payloads of one stream
inline constexpr uint32_t kMaxPayloads = 4096;             // payloads in one stream
inline constexpr size_t kMaxNameLength = 64;               // kind and instance

struct PayloadId {
  std::string kind;
  std::string instance;
  friend auto operator<=>(const PayloadId&, const PayloadId&) = default;
};

struct Payload {
  std::string kind;
  uint32_t version = 0;
  std::string instance;
  std::vector<uint8_t> bytes;

  PayloadId id() const { return {kind, instance}; }
  friend bool operator==(const Payload&, const Payload&) = default;
};

// Kinds and instances: 1..64 characters of [a-z0-9._/-]. Keeps names
// printable in errors and logs whatever a stream contains.
[[nodiscard]] bool valid_payload_name(std::string_view name);

// "virtio-net/rx-filter v2 (net0)", for error messages.
[[nodiscard]] std::string describe(std::string_view kind, uint32_t version, std::string_view instance);
[[nodiscard]] inline std::string describe(const Payload& p) { return describe(p.kind, p.version, p.instance); }
[[nodiscard]] std::string describe(const PayloadId& id);

}  // namespace wren::migrate
