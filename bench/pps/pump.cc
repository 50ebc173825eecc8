// The host end of the packet blaster (guest-images/multiboot-test/blaster.c)
// for bench/pps.sh and the ctest `blaster` test: a sink that counts the
// guest's frames on a TAP, and a source that sends frames to the guest.
//
//   pps_pump TAP GUEST_MAC    (run inside the TAP's network namespace)
//
// Both use AF_PACKET sockets bound to the TAP, in batches (recvmmsg,
// sendmmsg). The sink counts every frame from the blaster's source address
// 02:b1:a5:7e:00:01 by size class (64 B, 1514 B, larger: TSO) and ignores
// the frames it sends itself (PACKET_IGNORE_OUTGOING). Commands on stdin,
// one answer line each on stdout:
//   count        -> "count N64 B64 N1514 B1514 NTSO BTSO" since the start
//   source LEN [NICE] -> "source LEN": sends LEN-byte frames (ethertype
//                   0x88b5) to GUEST_MAC until `stop`, from a thread at nice
//                   NICE (default 0; 19: only while a core is idle)
//   stop         -> "sent N": frames the source's sendmmsg calls took
//   go           -> "go": sends the guest one go-ahead frame (ethertype 0x88b6)
//   quit
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::array<uint8_t, 6> kBlasterMac = {0x02, 0xb1, 0xa5, 0x7e, 0x00, 0x01};
constexpr std::array<uint8_t, 6> kSourceMac = {0x02, 0xb1, 0xa5, 0x7e, 0x00, 0x03};
constexpr uint16_t kEthertypeBlast = 0x88b5;
constexpr uint16_t kEthertypeGo = 0x88b6;
constexpr unsigned kBatch = 64;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

int packet_socket(const char* tap) {
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) die("socket(AF_PACKET)");
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(if_nametoindex(tap));
  if (!addr.sll_ifindex) die(tap);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die("bind");
  return fd;
}

struct Counts {
  std::atomic<uint64_t> frames[3]{}, bytes[3]{};  // 64 B, 1514 B, TSO
};

// Counts the blaster's frames until `stop`; reads only each frame's first
// bytes (MSG_TRUNC gives the whole length).
void sink(int fd, Counts& counts, const std::atomic<bool>& stop) {
  std::vector<std::array<uint8_t, 64>> bufs(kBatch);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  while (!stop) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs.data(), kBatch, MSG_TRUNC | MSG_WAITFORONE, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      die("recvmmsg");
    }
    for (int i = 0; i < n; ++i) {
      const size_t len = msgs[i].msg_len;
      if (len < 14 || std::memcmp(bufs[i].data() + 6, kBlasterMac.data(), 6) != 0) continue;
      const int cls = len == 64 ? 0 : len == 1514 ? 1 : len > 1514 ? 2 : -1;
      if (cls < 0) continue;
      counts.frames[cls] += 1;
      counts.bytes[cls] += len;
    }
  }
}

void source(int fd, size_t len, int nice, const std::array<uint8_t, 6>& dst, std::atomic<uint64_t>& sent,
            const std::atomic<bool>& stop) {
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
  std::vector<uint8_t> frame(len, 0);
  std::memcpy(frame.data(), dst.data(), 6);
  std::memcpy(frame.data() + 6, kSourceMac.data(), 6);
  frame[12] = kEthertypeBlast >> 8;
  frame[13] = kEthertypeBlast & 0xff;
  std::memcpy(frame.data() + 14, "WRENBLAST", 9);
  iovec iov{frame.data(), frame.size()};
  std::vector<mmsghdr> msgs(kBatch);
  for (auto& m : msgs) {
    m = {};
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  while (!stop) {
    int n = sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n > 0) sent += static_cast<uint64_t>(n);
    if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) die("sendmmsg");
  }
}

bool parse_mac(const char* text, std::array<uint8_t, 6>& mac) {
  unsigned v[6];
  if (std::sscanf(text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(v[i]);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::array<uint8_t, 6> guest{};
  if (argc != 3 || !parse_mac(argv[2], guest)) {
    std::fprintf(stderr, "usage: pps_pump TAP GUEST_MAC\n");
    return 2;
  }
  int rx = packet_socket(argv[1]);
  int one = 1, big = 256 << 20;
  if (setsockopt(rx, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) die("PACKET_IGNORE_OUTGOING");
  if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) die("SO_RCVBUFFORCE");
  timeval tick{0, 100000};  // so that the sink sees `quit`
  setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  int tx = packet_socket(argv[1]);

  Counts counts;
  std::atomic<bool> quit{false}, stop_source{false};
  std::atomic<uint64_t> sent{0};
  std::thread sink_thread(sink, rx, std::ref(counts), std::cref(quit));
  std::thread source_thread;
  std::cout << "ready" << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream words(line);
    std::string cmd;
    words >> cmd;
    if (cmd == "count") {
      std::cout << "count";
      for (int c = 0; c < 3; ++c) std::cout << ' ' << counts.frames[c] << ' ' << counts.bytes[c];
      std::cout << std::endl;
    } else if (cmd == "source") {
      size_t len = 0;
      int nice = 0;
      words >> len >> nice;
      if (len < 60 || len > 1514 || source_thread.joinable()) {
        std::cout << "error source" << std::endl;
        continue;
      }
      sent = 0;
      stop_source = false;
      source_thread = std::thread(source, tx, len, nice, std::cref(guest), std::ref(sent), std::cref(stop_source));
      std::cout << "source " << len << std::endl;
    } else if (cmd == "stop") {
      stop_source = true;
      if (source_thread.joinable()) source_thread.join();
      std::cout << "sent " << sent << std::endl;
    } else if (cmd == "go") {
      std::array<uint8_t, 60> frame{};
      std::memcpy(frame.data(), guest.data(), 6);
      std::memcpy(frame.data() + 6, kSourceMac.data(), 6);
      frame[12] = kEthertypeGo >> 8;
      frame[13] = kEthertypeGo & 0xff;
      if (send(tx, frame.data(), frame.size(), 0) != static_cast<ssize_t>(frame.size())) die("send go");
      std::cout << "go" << std::endl;
    } else if (cmd == "quit") {
      break;
    }
  }
  stop_source = true;
  if (source_thread.joinable()) source_thread.join();
  quit = true;
  sink_thread.join();
  return 0;
}
