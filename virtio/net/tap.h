#pragma once
// A host TAP interface as a virtio-net backend.
//
// The TAP must already exist (ip tuntap add dev NAME mode tap [multi_queue]);
// Wren never creates one. Each queue pair gets its own /dev/net/tun fd,
// opened IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (| IFF_MULTI_QUEUE for more than
// one pair), nonblocking and close-on-exec.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "hypervisor/unique_fd.h"
#include "virtio/net/net_backend.h"

namespace wren {

// A TAP could not be opened or configured: the message says why in terms
// an operator can act on; errno_value is the failing call's errno (0 if none).
class TapError : public std::runtime_error {
 public:
  TapError(const std::string& what, int errno_value) : std::runtime_error(what), errno_(errno_value) {}
  int errno_value() const { return errno_; }

 private:
  int errno_;
};

class Tap : public NetBackend {
 public:
  // Opens `queues` fds on TAP `name`. Throws TapError: the device does not
  // exist, is busy (EBUSY: attached elsewhere, or multi_queue mismatch),
  // permission denied (EPERM/EACCES: owned by another user, or no
  // CAP_NET_ADMIN), not a TAP / flags mismatch (EINVAL), /dev/net/tun missing.
  static std::unique_ptr<Tap> open(const std::string& name, uint16_t queues);

  std::string name() const override { return name_; }
  uint16_t queue_count() const override { return static_cast<uint16_t>(fds_.size()); }
  int queue_fd(uint16_t index) const override { return fds_.at(index).get(); }

  bool set_vnet_header_size(int bytes) override;
  bool set_offloads(uint64_t guest_offloads) override;
  uint64_t supported_guest_offloads() const override { return supported_offloads_; }
  // Idempotent: the kernel refuses to attach an attached queue or detach a
  // detached one (EINVAL), so the Tap remembers each queue's attachment (all
  // attached when opened) and asks only for real transitions.
  bool set_queue_enabled(uint16_t index, bool enabled) override;
  // TUNSETTXFILTER: All -> no filter; Multicast -> TUN_FLT_ALLMULTI + the
  // unicast list; None -> the exact unicast + multicast lists. (The kernel
  // matches 8 addresses exactly and hashes further multicast ones; more than
  // 8 unicast addresses turn its filter off, which is still a superset.)
  bool apply(const HostFilter& filter) override;

  // The TUN_F_* flags for a guest offload mask (feature-bit positions).
  static unsigned tun_offload_flags(uint64_t guest_offloads);
  // The TUNSETTXFILTER argument for a host filter: struct tun_filter
  // followed by the addresses.
  static std::vector<uint8_t> tun_filter_bytes(const HostFilter& filter);

 private:
  Tap(std::string name, std::vector<UniqueFd> fds, uint64_t supported);

  std::string name_;
  std::vector<UniqueFd> fds_;
  std::vector<bool> attached_;  // per queue fd
  uint64_t supported_offloads_;
};

}  // namespace wren
