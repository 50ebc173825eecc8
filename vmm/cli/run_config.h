#pragma once
// Everything `wren run` was asked to do, after command-line validation.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wren {

struct SerialConfig {
  enum class Kind { Stdio, File, Unix, None } kind = Kind::Stdio;
  std::string path;  // for File and Unix
};

struct NetConfig {
  std::string tap;
  std::optional<std::string> mac;  // "52:54:00:12:34:56"
  uint16_t queue_pairs = 1;
  bool transitional = false;  // false: modern-only virtio-pci
  bool mac_change = false;    // offer VIRTIO_NET_F_CTRL_MAC_ADDR
  bool mac_lock = false;      // drop transmitted frames not from the NIC's current MAC
};

// --disk: a virtio-blk device on a raw image (vmm/cli/disk_option.h).
struct DiskConfig {
  std::string path;
  bool read_only = false;
  std::string serial;         // GET_ID; default "wren-diskN"
  bool transitional = false;  // false: modern-only virtio-pci
  uint16_t queues = 1;
  bool direct = false;  // cache=none: O_DIRECT
};

struct TestExitConfig {
  uint16_t iobase = 0xf4;
  uint8_t iosize = 1;
};

struct RunConfig {
  std::string kernel;    // empty only with `restore`, `incoming` or `firmware`
  std::string restore;   // --restore FILE: continue a snapshot instead of booting
  std::string incoming;  // --incoming tcp:ADDR:PORT: wait for a live migration
  std::string firmware;  // --firmware PATH: boot a BIOS image from the reset vector
  std::string initrd;
  std::string cmdline;
  uint64_t memory_bytes = 512ull << 20;
  uint32_t cpus = 1;
  std::string cpu_model = "host";
  SerialConfig serial;
  std::vector<NetConfig> nets;
  std::vector<DiskConfig> disks;
  std::optional<std::string> api_socket;  // unix socket path
  std::optional<TestExitConfig> test_exit;
  bool pc_testdev = false;  // QEMU pc-testdev: ports 0xe0-0xeb, IRQ lines 0x2000-0x2017, MMIO 0xff000000
  std::string kvm_device = "/dev/kvm";
};

}  // namespace wren
