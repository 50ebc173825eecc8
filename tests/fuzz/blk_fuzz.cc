// libFuzzer target for the virtio-blk request path: chains of any shape and
// headers of any type and sector go through BlkDevice (parse, checks, real
// io_uring I/O on a 1 MiB memfd image) and must never write outside the
// image, grow it, hang, or leave requests behind.
//
// Input layout (little-endian):
//   u8  mode        bit 0: EVENT_IDX, bit 1: indirect chains, bit 2: read-only
//                   disk, bit 3: writeback off, bits 4-5: max in flight - 1
//   then records until the input ends:
//     u8  kind      0: request, 1: raw descriptor + publish, 2: reset and reactivate
//     request:  u32 type, u64 sector, u8 count (1..8), then per buffer
//               u16 len, u8 flags (bit 0 writable, bit 1 the header itself,
//               bit 2 the segment table: 16 bytes of fuzz data per segment)
//     raw:      u16 index, u64 addr, u32 len, u16 flags, u16 next, u16 head
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <linux/virtio_blk.h>

#include "fuzz/fuzz_input.h"
#include "unit/virtio/fake_driver.h"
#include "virtio/blk/blk_device.h"

namespace {

using namespace wren;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

using fuzz::Input;

struct Events : VirtioTransportEvents {
  void signal_used(uint16_t) override {}
  void signal_config_changed() override {}
  void set_needs_reset() override { needs_reset = true; }
  bool needs_reset = false;
};

constexpr uint64_t kImage = 1 << 20;
constexpr uint64_t kRam = 1 << 20;

int image_fd() {
  static int fd = [] {
    const int f = ::memfd_create("blk-fuzz", MFD_CLOEXEC);
    check(f >= 0 && ::ftruncate(f, kImage) == 0);
    return f;
  }();
  return fd;
}

void drain(BlkDevice& dev) {
  for (int i = 0; i < 10000 && dev.report().counters.in_flight > 0; ++i)
    if (dev.poll_completions() == 0) ::usleep(10);
  check(dev.report().counters.in_flight == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // guest errors are expected here
    return true;
  }();
  (void)quiet;
  Input in{std::span(data, size)};
  const uint8_t mode = in.get<uint8_t>();
  const bool event_idx = mode & 1, indirect = mode & 2, read_only = mode & 4, writethrough = mode & 8;
  check(::ftruncate(image_fd(), 0) == 0 && ::ftruncate(image_fd(), kImage) == 0);

  GuestMemory mem({{0, kRam}});
  boost::asio::io_context io;
  Events events;
  blk::ImageOptions io_opts;
  io_opts.path = "/proc/self/fd/" + std::to_string(image_fd());
  io_opts.read_only = read_only;
  io_opts.lock = false;  // the same file every run; nothing to protect here
  BlkDeviceOptions opts;
  opts.serial = "fuzz";
  opts.max_in_flight = static_cast<uint16_t>(((mode >> 4) & 3) + 1);
  opts.queue_size = 64;
  auto dev = BlkDevice::create(opts, blk::ImageFile::open(io_opts), io);
  dev->bind_transport(&events);
  std::vector<Queue> queues;
  queues.emplace_back(64, "fuzz");
  auto drv = std::make_unique<FakeDriver>(mem, 64, 0);
  const uint64_t features = dev->device_features() & ~(event_idx ? 0 : kVirtioFRingEventIdx);
  auto activate = [&] {
    drv->attach(queues[0], event_idx);
    check(dev->activate(ActivationContext{features, &mem, std::span<Queue>(queues)}));
    if (writethrough) {
      const uint8_t off[1] = {0};
      dev->write_config(32, off);
    }
  };
  activate();

  int records = 0;
  while (!in.empty() && records++ < 64) {
    const uint8_t kind = in.get<uint8_t>() % 3;
    try {
      if (kind == 0) {
        std::vector<uint8_t> header(16);
        const uint32_t type = in.get<uint32_t>();
        const uint64_t sector = in.get<uint64_t>();
        std::memcpy(header.data(), &type, 4);
        std::memcpy(header.data() + 8, &sector, 8);
        const unsigned count = in.get<uint8_t>() % 8 + 1;
        std::vector<FakeBuffer> bufs;
        for (unsigned i = 0; i < count; ++i) {
          const uint32_t len = in.get<uint16_t>() % 8192;
          const uint8_t flags = in.get<uint8_t>();
          if (len == 0) continue;
          uint64_t gpa;
          if (flags & 2) {
            std::vector<uint8_t> bytes(len, 0);
            std::memcpy(bytes.data(), header.data(), std::min<size_t>(16, len));
            gpa = drv->put_bytes(bytes);
          } else if (flags & 4) {
            std::vector<uint8_t> bytes(len, 0);
            for (auto& b : bytes) b = in.get<uint8_t>();
            gpa = drv->put_bytes(bytes);
          } else {
            gpa = drv->alloc(len, 512);
          }
          bufs.push_back({gpa, len, (flags & 1) != 0});
        }
        if (bufs.empty() || drv->free_descriptors() < bufs.size() + 1) break;
        if (indirect)
          drv->send_indirect(bufs);
        else
          drv->send(bufs);
      } else if (kind == 1) {
        split_ring::Descriptor d;
        const uint16_t index = in.get<uint16_t>() % 64;
        d.addr = in.get<uint64_t>();
        d.len = in.get<uint32_t>();
        d.flags = in.get<uint16_t>();
        d.next = in.get<uint16_t>();
        drv->write_desc(index, d);
        drv->publish(in.get<uint16_t>() % 64);
      } else {
        dev->reset();
        queues[0].reset();
        drv = std::make_unique<FakeDriver>(mem, 64, 0);
        activate();
        continue;
      }
    } catch (const std::runtime_error&) {
      break;  // the fake driver ran out of room: stop adding
    }
    dev->queue_notify(0);
    drain(*dev);
    while (auto used = drv->next_used()) check(used->len <= 8 * 8192 + 1);
  }
  drain(*dev);

  struct stat st {};
  check(::fstat(image_fd(), &st) == 0 && static_cast<uint64_t>(st.st_size) == kImage);  // never grown
  const auto c = dev->report().counters;
  check(c.in_flight == 0);
  if (read_only) check(c.bytes_written == 0);
  return 0;
}
