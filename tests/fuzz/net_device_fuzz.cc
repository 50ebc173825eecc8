// libFuzzer target for the whole virtio-net device: a modern VirtioPciDevice
// around a NetDevice (two queue pairs, MAC change offered, queue size 256) on
// 4 MiB of guest RAM at address 0 and a fake TAP (socketpairs, one per queue
// pair). The input plays the guest driver and the network: transport
// registers, raw ring and descriptor bytes, kicks, resets, incoming frames and
// turns of the event loop (poll(), never blocking). Any crash, sanitizer report
// or broken invariant (__builtin_trap) is a finding; so is a frame on the TAP
// larger than a virtio-net header plus NetDevice::kMaxTxFrameBytes.
// (With the transmit cap of net_device_tx.cc removed, that check fired after
// 24 s from the seeds: a 68596-byte frame from the TSO seed's indirect table.)
//
// Input: records until the input ends (at most kMaxRecords), little-endian.
// Widths are 1 << (w & 3) bytes. Guest addresses are taken modulo the RAM size.
//   u8 op (op % 14), then:
//   0 common cfg write   u8 w, u8 off (& 0x3f), u64 value
//   1 modern BAR read    u8 w, u16 off (& 0x3fff)
//   2 device cfg write   u8 w, u8 off (& 0x1f), u64 value
//   3 kick               u8 queue (% 8): notify register of that queue
//   4 guest RAM write    u32 gpa, u8 n, n bytes
//   5 descriptor run     u32 table gpa, u16 first, u16 count (& 0x7ff), u64 addr,
//                        u32 len, u16 flags, u16 addr stride: `count` descriptors
//                        {addr + i * stride, len, flags, next = first + i + 1} at
//                        table + 16 * (first + i); the last one loses NEXT
//   6 avail push         u32 avail gpa, u8 log2 ring size (& 15), u16 head:
//                        ring[idx & (size - 1)] = head, then idx + 1
//   7 device reset       (device_status = 0)
//   8 incoming frame     u8 queue pair (& 1), u16 len (% (kMaxRxFrameBytes + 64)),
//                        u16 n, n bytes: the frame is those bytes repeated (zeros
//                        if n == 0), written to the TAP's host end (EAGAIN: lost)
//   9 run the event loop (poll) and drain what the device transmitted
//  10 PCI config write   u8 w (at most 4 bytes), u8 off, u32 value
//  11 MSI-X table write  u8 w, u16 off (& 0xfff), u64 value
//  12 host side          u8 sub: 0 link down, 1 link up, 2 announce, 3 query the
//                        rx filter, 4 save the transport and the device, check that
//                        both accept their own state, restore the transport
//  13 driver bring-up    u64 features, u8 queues (% 6), u8 bit 0: MSI-X: what a
//                        driver does from reset to DRIVER_OK (rings of 256 at
//                        kRingBase + q * 0x4000: avail +0x1000, used +0x2000), in
//                        one record so that mutations go to the datapath
// tests/fuzz/make_net_device_seeds.py writes the seed corpus (a Linux driver's
// bring-up, RX buffers, TX frames and control commands).
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <variant>
#include <vector>

#include "devices/pci/msi_vector_sink.h"
#include "fuzz/fuzz_input.h"
#include "hypervisor/guest_memory.h"
#include "hypervisor/irq.h"
#include "unit/virtio/net/fake_backend.h"
#include "virtio/net/net_device.h"
#include "virtio/net/net_header.h"
#include "virtio/pci/virtio_pci_device.h"

namespace {

using namespace wren;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr uint64_t kRam = 4 << 20;
constexpr uint16_t kPairs = 2;
constexpr size_t kMaxRecords = 4096;
constexpr size_t kMaxInput = 256 * 1024;
constexpr uint64_t kRingBase = 0x10000;
constexpr uint16_t kRingSize = 256;
// Anything the device writes to the TAP must fit here (header + capped frame).
constexpr size_t kMaxTapFrame = kNetHeaderHashSize + NetDevice::kMaxTxFrameBytes;

using fuzz::Input;

class NullLine : public IrqLine {
 public:
  void set_level(bool) override {}
};
class NullMsi : public MsiSink {
 public:
  void send(uint64_t, uint32_t) override {}
};

struct Machine {
  Machine() : mem({{0, kRam}}) {
    auto backend = std::make_unique<test::SocketPairBackend>(kPairs);
    host = backend->shared();
    NetDeviceOptions opts;
    opts.mac = MacAddress{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
    opts.queue_pairs = kPairs;
    opts.mac_change = true;
    net = NetDevice::create(opts, std::move(backend), io);
    fn = VirtioPciDevice::create(net, VirtioPciMode::kModern, mem, std::make_shared<pci::DirectMsiVectorSink>(msi),
                                 nullptr);
    fn->attach_intx(std::make_shared<NullLine>());
  }
  ~Machine() {
    fn.reset();
    net.reset();
  }

  void run_loop() {
    io.restart();
    io.poll();
    drain_tap();
  }
  // Reads everything the device sent, so the sockets never fill up.
  void drain_tap() {
    static std::array<uint8_t, kMaxTapFrame + 1> buf;
    for (auto& fd : host->host_fds) {
      for (int i = 0; i < 1024; ++i) {
        const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) break;
        check(static_cast<size_t>(n) <= kMaxTapFrame);  // the transmit cap
      }
    }
  }

  GuestMemory mem;
  boost::asio::io_context io;  // after mem, before the device: destroyed after it
  NullMsi msi;
  std::shared_ptr<test::SocketPairBackend::Shared> host;
  std::shared_ptr<NetDevice> net;
  std::shared_ptr<VirtioPciDevice> fn;
};

void bar_write(Machine& m, uint64_t offset, size_t width, uint64_t value) {
  uint8_t b[8];
  std::memcpy(b, &value, 8);
  m.fn->bar_write(VirtioPciDevice::kModernBar, offset, std::span<const uint8_t>(b, width));
}

// The register writes of a driver's initialisation (virtio 1.2, 3.1.1).
void bring_up(Machine& m, uint64_t features, uint16_t queues, bool msix) {
  constexpr uint64_t kCommon = VirtioPciDevice::kCommonCfgOffset;
  bar_write(m, kCommon + 20, 1, 0);  // reset
  bar_write(m, kCommon + 20, 1, 1);  // ACKNOWLEDGE
  bar_write(m, kCommon + 20, 1, 3);  // DRIVER
  bar_write(m, kCommon + 8, 4, 0);
  bar_write(m, kCommon + 12, 4, features & 0xffffffff);
  bar_write(m, kCommon + 8, 4, 1);
  bar_write(m, kCommon + 12, 4, features >> 32);
  bar_write(m, kCommon + 20, 1, 0xb);  // FEATURES_OK
  if (msix) {
    const uint8_t enable[2] = {0x00, 0x80};
    m.fn->config_write(0x9a, enable);  // MSI-X message control (capability at 0x98)
    for (uint16_t v = 0; v <= queues; ++v) {
      const uint32_t entry[4] = {0xfee00000, 0, 0x30u + v, 0};
      m.fn->bar_write(VirtioPciDevice::kMsixBar, v * 16,
                      std::span(reinterpret_cast<const uint8_t*>(entry), sizeof(entry)));
    }
    bar_write(m, kCommon + 16, 2, 0);
  }
  for (uint16_t q = 0; q < queues; ++q) {
    const uint64_t ring = kRingBase + q * 0x4000;
    bar_write(m, kCommon + 22, 2, q);
    bar_write(m, kCommon + 24, 2, kRingSize);
    if (msix) bar_write(m, kCommon + 26, 2, q + 1);
    bar_write(m, kCommon + 32, 8, ring);
    bar_write(m, kCommon + 40, 8, ring + 0x1000);
    bar_write(m, kCommon + 48, 8, ring + 0x2000);
    bar_write(m, kCommon + 28, 2, 1);
  }
  bar_write(m, kCommon + 20, 1, 0xf);  // DRIVER_OK
}

void run_record(Machine& m, Input& in) {
  const uint8_t op = in.get<uint8_t>() % 14;
  switch (op) {
    case 0: {
      const size_t w = size_t{1} << (in.get<uint8_t>() & 3);
      const uint8_t off = in.get<uint8_t>() & 0x3f;
      bar_write(m, VirtioPciDevice::kCommonCfgOffset + off, w, in.get<uint64_t>());
      break;
    }
    case 1: {
      const size_t w = size_t{1} << (in.get<uint8_t>() & 3);
      const uint16_t off = in.get<uint16_t>() & 0x3fff;
      uint8_t b[8] = {};
      m.fn->bar_read(VirtioPciDevice::kModernBar, off, std::span(b, w));
      break;
    }
    case 2: {
      const size_t w = size_t{1} << (in.get<uint8_t>() & 3);
      const uint8_t off = in.get<uint8_t>() & 0x1f;
      bar_write(m, VirtioPciDevice::kDeviceCfgOffset + off, w, in.get<uint64_t>());
      break;
    }
    case 3: {
      const uint16_t q = in.get<uint8_t>() % 8;
      bar_write(m, VirtioPciDevice::kNotifyOffset + q * VirtioPciDevice::kNotifyOffMultiplier, 2, q);
      break;
    }
    case 4: {
      const uint64_t gpa = in.get<uint32_t>() % kRam;
      const auto bytes = in.take(in.get<uint8_t>());
      (void)m.mem.write(gpa, bytes);  // may run off the end of RAM: refused
      break;
    }
    case 5: {
      const uint64_t table = in.get<uint32_t>() % kRam;
      const uint16_t first = in.get<uint16_t>();
      const uint16_t count = in.get<uint16_t>() & 0x7ff;
      const uint64_t addr = in.get<uint64_t>();
      const uint32_t len = in.get<uint32_t>();
      const uint16_t flags = in.get<uint16_t>();
      const uint16_t stride = in.get<uint16_t>();
      for (uint16_t i = 0; i < count; ++i) {
        const uint16_t index = static_cast<uint16_t>(first + i);
        const bool last = i + 1 == count;
        const uint16_t f = last ? static_cast<uint16_t>(flags & ~split_ring::kDescNext) : flags;
        const split_ring::Descriptor d{addr + uint64_t{i} * stride, len, f, static_cast<uint16_t>(index + 1)};
        if (!m.mem.write_obj(table + uint64_t{index} * sizeof(d), d)) break;
      }
      break;
    }
    case 6: {
      const uint64_t avail = in.get<uint32_t>() % kRam;
      const uint16_t size = static_cast<uint16_t>(1u << (in.get<uint8_t>() & 15));
      const uint16_t head = in.get<uint16_t>();
      const auto idx = m.mem.read_obj<uint16_t>(avail + 2);
      if (!idx) break;
      if (!m.mem.write_obj<uint16_t>(avail + 4 + 2 * (*idx & (size - 1)), head)) break;
      (void)m.mem.write_obj<uint16_t>(avail + 2, static_cast<uint16_t>(*idx + 1));
      break;
    }
    case 7: bar_write(m, VirtioPciDevice::kCommonCfgOffset + 20, 1, 0); break;
    case 8: {
      const uint16_t pair = in.get<uint8_t>() & 1;
      const size_t len = in.get<uint16_t>() % (NetDevice::kMaxRxFrameBytes + 64);
      const auto pattern = in.take(in.get<uint16_t>());
      static std::array<uint8_t, NetDevice::kMaxRxFrameBytes + 64> frame;
      for (size_t i = 0; i < len; ++i) frame[i] = pattern.empty() ? 0 : pattern[i % pattern.size()];
      (void)::send(m.host->host_fds[pair].get(), frame.data(), len, MSG_DONTWAIT);
      break;
    }
    case 9: m.run_loop(); break;
    case 10: {
      const size_t w = std::min<size_t>(size_t{1} << (in.get<uint8_t>() & 3), 4);
      const uint8_t off = in.get<uint8_t>();
      const uint32_t value = in.get<uint32_t>();
      uint8_t b[4];
      std::memcpy(b, &value, 4);
      m.fn->config_write(std::min<uint16_t>(off, 256 - w), std::span<const uint8_t>(b, w));
      break;
    }
    case 11: {
      const size_t w = size_t{1} << (in.get<uint8_t>() & 3);
      const uint16_t off = in.get<uint16_t>() & 0xfff;
      const uint64_t value = in.get<uint64_t>();
      uint8_t b[8];
      std::memcpy(b, &value, 8);
      m.fn->bar_write(VirtioPciDevice::kMsixBar, off, std::span<const uint8_t>(b, w));
      break;
    }
    case 12: {
      switch (in.get<uint8_t>() % 5) {
        case 0: m.net->set_link_up(false); break;
        case 1: m.net->set_link_up(true); break;
        case 2: (void)m.net->announce(); break;
        case 3: (void)m.net->query_rx_filter(); break;
        case 4: {
          const auto transport = m.fn->save();
          // A device must always accept its own state.
          check(std::holds_alternative<NetDevice::ValidState>(m.net->validate(m.net->save())));
          check(m.fn->restore(transport));
          break;
        }
      }
      break;
    }
    case 13: {
      const uint64_t features = in.get<uint64_t>();
      const uint16_t queues = in.get<uint8_t>() % 6;
      bring_up(m, features, queues, in.get<uint8_t>() & 1);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // guest errors are logged; keep the fuzzer quiet
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return -1;  // keep each run short
  Machine m;
  Input in{std::span(data, size)};
  for (size_t records = 0; !in.empty() && records < kMaxRecords; ++records) run_record(m, in);
  m.run_loop();
  return 0;
}
