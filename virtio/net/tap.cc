#include "virtio/net/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "virtio/net/net_features.h"

namespace wren {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

std::string create_hint(const std::string& name, uint16_t queues) {
  return " (create it with: ip tuntap add dev " + name + " mode tap" + (queues > 1 ? " multi_queue" : "") +
         " [user USER])";
}

[[noreturn]] void throw_setiff_error(const std::string& name, uint16_t queues, int e) {
  switch (e) {
    case EBUSY:
      throw TapError("TAP device '" + name + "' is busy: another process has it open" +
                         (queues > 1 ? ", or it was created without multi_queue" : ", or it is a multi_queue TAP"),
                     e);
    case EPERM:
    case EACCES:
      throw TapError("permission denied attaching to TAP device '" + name +
                         "': it belongs to another user or group (ip tuntap add ... user USER), "
                         "or CAP_NET_ADMIN is needed",
                     e);
    case EINVAL:
      throw TapError("'" + name + "' exists but could not be attached as a TAP with a virtio-net header" +
                         (queues > 1 ? " and multiple queues" : "") + " (is it a TUN device, or " +
                         (queues > 1 ? "created without multi_queue?)" : "created with multi_queue?)"),
                     e);
    default: throw TapError("attaching to TAP device '" + name + "' failed: " + errno_text(e), e);
  }
}

UniqueFd open_queue(const std::string& name, uint16_t queues) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    const int e = errno;
    if (e == ENOENT || e == ENODEV) throw TapError("/dev/net/tun does not exist (is the tun module loaded?)", e);
    if (e == EACCES || e == EPERM) throw TapError("permission denied opening /dev/net/tun", e);
    throw TapError("opening /dev/net/tun failed: " + errno_text(e), e);
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) throw_setiff_error(name, queues, errno);
  return fd;
}

// What TUNSETOFFLOAD accepts on this kernel, probed without lasting effect.
uint64_t probe_offloads(int fd) {
  uint64_t supported = 0;
  if (::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0) supported |= feature_bit(VIRTIO_NET_F_GUEST_CSUM);
  if (::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) == 0)
    supported |= feature_bit(VIRTIO_NET_F_GUEST_TSO4) | feature_bit(VIRTIO_NET_F_GUEST_TSO6) |
                 feature_bit(VIRTIO_NET_F_GUEST_ECN);
  if (::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_UFO) == 0) supported |= feature_bit(VIRTIO_NET_F_GUEST_UFO);
  [[maybe_unused]] int rc = ::ioctl(fd, TUNSETOFFLOAD, 0);
  return supported;
}

}  // namespace

Tap::Tap(std::string name, std::vector<UniqueFd> fds, uint64_t supported)
    : name_(std::move(name)), fds_(std::move(fds)), attached_(fds_.size(), true), supported_offloads_(supported) {}

std::unique_ptr<Tap> Tap::open(const std::string& name, uint16_t queues) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw TapError("TAP name '" + name + "' must be 1 to " + std::to_string(IFNAMSIZ - 1) + " characters", 0);
  if (queues < 1) throw TapError("a TAP needs at least one queue", 0);
  // TUNSETIFF would create a missing device; Wren only attaches to existing ones.
  if (::if_nametoindex(name.c_str()) == 0)
    throw TapError("TAP device '" + name + "' does not exist" + create_hint(name, queues), ENODEV);
  std::vector<UniqueFd> fds;
  for (uint16_t i = 0; i < queues; ++i) fds.push_back(open_queue(name, queues));
  const uint64_t supported = probe_offloads(fds[0].get());
  return std::unique_ptr<Tap>(new Tap(name, std::move(fds), supported));
}

bool Tap::set_vnet_header_size(int bytes) { return ::ioctl(fds_[0].get(), TUNSETVNETHDRSZ, &bytes) == 0; }

unsigned Tap::tun_offload_flags(uint64_t offloads) {
  if (!has_feature(offloads, VIRTIO_NET_F_GUEST_CSUM)) return 0;  // every offload rests on checksum offload
  unsigned flags = TUN_F_CSUM;
  if (has_feature(offloads, VIRTIO_NET_F_GUEST_TSO4)) flags |= TUN_F_TSO4;
  if (has_feature(offloads, VIRTIO_NET_F_GUEST_TSO6)) flags |= TUN_F_TSO6;
  if (has_feature(offloads, VIRTIO_NET_F_GUEST_ECN) && (flags & (TUN_F_TSO4 | TUN_F_TSO6))) flags |= TUN_F_TSO_ECN;
  if (has_feature(offloads, VIRTIO_NET_F_GUEST_UFO)) flags |= TUN_F_UFO;
  return flags;
}

bool Tap::set_offloads(uint64_t guest_offloads) {
  return ::ioctl(fds_[0].get(), TUNSETOFFLOAD, tun_offload_flags(guest_offloads & supported_offloads_)) == 0;
}

bool Tap::set_queue_enabled(uint16_t index, bool enabled) {
  if (fds_.size() < 2) return true;  // single queue: nothing to steer
  if (index >= fds_.size()) return false;
  if (attached_[index] == enabled) return true;
  ifreq ifr{};
  ifr.ifr_flags = enabled ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
  if (::ioctl(fds_[index].get(), TUNSETQUEUE, &ifr) != 0) return false;
  attached_[index] = enabled;
  return true;
}

std::vector<uint8_t> Tap::tun_filter_bytes(const HostFilter& filter) {
  std::vector<MacAddress> addrs;
  uint16_t flags = 0;
  switch (filter.level) {
    case HostRxLevel::All: break;  // count 0 turns the filter off
    case HostRxLevel::Multicast:
      flags = TUN_FLT_ALLMULTI;
      addrs = filter.unicast;
      break;
    case HostRxLevel::None:
      addrs = filter.unicast;
      addrs.insert(addrs.end(), filter.multicast.begin(), filter.multicast.end());
      break;
  }
  tun_filter header{};
  header.flags = flags;
  header.count = static_cast<uint16_t>(addrs.size());
  std::vector<uint8_t> bytes(sizeof(header) + addrs.size() * MacAddress::kSize);
  std::memcpy(bytes.data(), &header, sizeof(header));
  for (size_t i = 0; i < addrs.size(); ++i)
    std::memcpy(bytes.data() + sizeof(header) + i * MacAddress::kSize, addrs[i].bytes.data(), MacAddress::kSize);
  return bytes;
}

bool Tap::apply(const HostFilter& filter) {
  if (filter.level != HostRxLevel::All && filter.unicast.empty()) return false;  // would mean "no filter"
  auto bytes = tun_filter_bytes(filter);
  return ::ioctl(fds_[0].get(), TUNSETTXFILTER, bytes.data()) >= 0;
}

}  // namespace wren
