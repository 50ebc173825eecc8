#pragma once
// Test helpers for real TAPs: a forked child in its own network namespace
// (CLONE_NEWNET), so nothing touches the host's namespace and every TAP the
// test creates disappears with the namespace when the child exits.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "virtio/net/mac_address.h"

#include "hypervisor/unique_fd.h"

namespace wren::test {

// Runs `body` in a forked child inside a fresh network namespace. The body
// returns "" on success or what went wrong; "skip:" prefixes a skip.
inline std::string in_private_netns(const std::function<std::string()>& body) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string result;
    if (::unshare(CLONE_NEWNET) != 0)
      result = std::string("skip: unshare(CLONE_NEWNET): ") + std::strerror(errno);
    else {
      try {
        result = body();
      } catch (const std::exception& e) {
        result = std::string("exception: ") + e.what();
      }
    }
    [[maybe_unused]] auto n = ::write(pipe_fds[1], result.data(), result.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "child crashed";
  return out;
}

// Creates a persistent TAP (as `ip tuntap add dev NAME mode tap` would).
inline bool create_persistent_tap(const char* name, bool multi_queue) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
  return ::ioctl(fd.get(), TUNSETIFF, &ifr) == 0 && ::ioctl(fd.get(), TUNSETPERSIST, 1) == 0;
}

inline bool link_up(const char* name) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

inline constexpr uint16_t kTestEtherType = 0x88b5;  // IEEE local experimental

inline std::vector<uint8_t> test_frame(const MacAddress& dest, uint8_t marker) {
  std::vector<uint8_t> f(dest.bytes.begin(), dest.bytes.end());
  for (uint8_t b : {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}) f.push_back(b);
  f.push_back(kTestEtherType >> 8);
  f.push_back(kTestEtherType & 0xff);
  f.resize(60, marker);
  return f;
}

// Reads frames from `fd` (skipping `skip` header bytes) for up to `ms` until
// a test frame with `marker` arrives; returns the markers of every test frame
// read on the way (the last one is `marker` if it arrived). Other traffic
// (IPv6 autoconfiguration...) is ignored.
inline std::vector<uint8_t> read_markers_until(int fd, size_t skip, uint8_t marker, int ms) {
  std::vector<uint8_t> seen;
  std::vector<uint8_t> buf(70000);
  for (int waited = 0; waited < ms; waited += 10) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n != static_cast<ssize_t>(skip + 60)) continue;
    const uint8_t* f = buf.data() + skip;
    if (f[12] != (kTestEtherType >> 8) || f[13] != (kTestEtherType & 0xff)) continue;
    seen.push_back(f[20]);
    if (f[20] == marker) break;
  }
  return seen;
}

// An AF_PACKET socket bound to interface `ifindex` (sees every frame on it,
// can send raw frames out of it); invalid on failure.
inline UniqueFd packet_socket(int ifindex) {
  UniqueFd s(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = ifindex;
  if (!s.valid() || ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return UniqueFd();
  return s;
}

}  // namespace wren::test
