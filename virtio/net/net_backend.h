#pragma once
// What a virtio-net device needs from its host side: one message-preserving,
// nonblocking fd per queue pair (each read/write is one frame preceded by the
// virtio-net header), and the knobs a TAP has (host_side.h). Tap implements
// it; tests use socketpairs.
#include <cstdint>
#include <string>

#include "virtio/net/host_side.h"

namespace wren {

class NetBackend : public HostSideBackend {
 public:
  // Name for logs and errors ("tap0").
  virtual std::string name() const = 0;
  virtual uint16_t queue_count() const = 0;
  // Owned by the backend; valid while it lives.
  virtual int queue_fd(uint16_t index) const = 0;

  // Header length in front of every frame, both directions (10, 12 or 20).
  [[nodiscard]] virtual bool set_vnet_header_size(int bytes) = 0;
  // Which offloads set_offloads() can turn on.
  virtual uint64_t supported_guest_offloads() const = 0;
};

}  // namespace wren
