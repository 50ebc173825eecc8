#pragma once
// A BlkDevice on a temporary image, driven by FakeDriver queues.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

#include <linux/virtio_blk.h>

#include "unit/temp_path.h"
#include "unit/virtio/fake_driver.h"
#include "virtio/blk/blk_device.h"

namespace wren::test {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kMiB = 1 << 20;

inline uint64_t fbit(unsigned b) { return uint64_t{1} << b; }

inline constexpr uint64_t kBlkFeatures =
    kVirtioFVersion1 | (uint64_t{1} << VIRTIO_BLK_F_FLUSH) | (uint64_t{1} << VIRTIO_BLK_F_DISCARD) |
    (uint64_t{1} << VIRTIO_BLK_F_WRITE_ZEROES) | (uint64_t{1} << VIRTIO_BLK_F_CONFIG_WCE) |
    (uint64_t{1} << VIRTIO_BLK_F_BLK_SIZE) | (uint64_t{1} << VIRTIO_BLK_F_SEG_MAX);

struct FakeEvents : VirtioTransportEvents {
  void signal_used(uint16_t index) override {
    // As a failed MSI route update or allocation on the interrupt path would.
    if (throw_on_used) throw std::runtime_error("interrupt delivery failed");
    used.push_back(index);
  }
  bool throw_on_used = false;
  void signal_config_changed() override { ++config_changed; }
  void set_needs_reset() override { ++needs_reset; }
  std::vector<uint16_t> used;
  int config_changed = 0;
  int needs_reset = 0;
};

// A file of `size` bytes, filled with a pattern (byte i = i * 7 + 3 mod 251).
inline std::string make_image(const std::string& name, uint64_t size, bool pattern = true) {
  const std::string path = process_temp_path(name);
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  if (pattern) {
    Bytes b(size);
    for (uint64_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>((i * 7 + 3) % 251);
    EXPECT_EQ(::pwrite(fd, b.data(), b.size(), 0), static_cast<ssize_t>(size));
  }
  ::close(fd);
  return path;
}

inline uint8_t pattern_byte(uint64_t i) { return static_cast<uint8_t>((i * 7 + 3) % 251); }

inline Bytes read_file(const std::string& path, uint64_t offset, uint64_t len) {
  Bytes b(len);
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_EQ(::pread(fd, b.data(), len, static_cast<off_t>(offset)), static_cast<ssize_t>(len));
  ::close(fd);
  return b;
}

class BlkHarness {
 public:
  BlkHarness(const std::string& path, bool read_only = false, uint16_t queues = 1, uint16_t max_in_flight = 128,
             std::string serial = "wren-disk-1")
      : mem(regions(queues)) {
    blk::ImageOptions io_opts;
    io_opts.path = path;
    io_opts.read_only = read_only;
    BlkDeviceOptions opts;
    opts.serial = std::move(serial);
    opts.queues = queues;
    opts.max_in_flight = max_in_flight;
    dev = BlkDevice::create(opts, blk::ImageFile::open(io_opts), io);
    dev->bind_transport(&events);
    for (uint16_t i = 0; i < queues; ++i) {
      queues_.emplace_back(256, "disk0.q" + std::to_string(i));
      drivers.push_back(std::make_unique<FakeDriver>(mem, 128, i * 4 * kMiB));
    }
  }

  static std::vector<MemoryRegion> regions(uint16_t queues) {
    std::vector<MemoryRegion> r;
    for (uint16_t i = 0; i < queues; ++i) r.push_back({i * 4 * kMiB, 4 * kMiB});  // one per queue's driver
    return r;
  }

  bool activate(uint64_t features = kBlkFeatures, bool event_idx = false) {
    for (size_t i = 0; i < queues_.size(); ++i) drivers[i]->attach(queues_[i], event_idx);
    ActivationContext ctx{features | (event_idx ? kVirtioFRingEventIdx : 0), &mem, std::span<Queue>(queues_)};
    return dev->activate(ctx);
  }

  FakeDriver& drv(uint16_t q = 0) { return *drivers[q]; }

  uint64_t header(uint32_t type, uint64_t sector, uint16_t q = 0) {
    Bytes h(16);
    for (int i = 0; i < 4; ++i) h[i] = static_cast<uint8_t>(type >> (8 * i));
    for (int i = 0; i < 8; ++i) h[8 + i] = static_cast<uint8_t>(sector >> (8 * i));
    return drv(q).put_bytes(h);
  }
  uint64_t status_byte(uint16_t q = 0) {
    const uint64_t s = drv(q).alloc(1);
    EXPECT_TRUE(mem.fill(s, 0xee, 1));
    return s;
  }
  uint8_t status_at(uint64_t gpa) { return drv().get_bytes(gpa, 1)[0]; }

  // Waits (polling completions) for the next used element of queue q.
  std::optional<split_ring::UsedElement> wait_used(uint16_t q = 0, int ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      if (auto u = drv(q).next_used()) return u;
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      if (dev->poll_completions() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  struct Done {
    uint8_t status = 0xee;
    uint32_t len = 0;
  };
  // Sends `buffers` on queue q, kicks, waits; status read from `status`.
  Done run(std::initializer_list<FakeBuffer> buffers, uint64_t status, uint16_t q = 0) {
    drv(q).send(buffers);
    dev->queue_notify(q);
    auto u = wait_used(q);
    EXPECT_TRUE(u.has_value());
    if (!u) return {};
    return Done{drv(q).get_bytes(status, 1)[0], u->len};
  }

  Done read(uint64_t sector, uint32_t len, uint64_t& data) {
    data = drv().alloc(len, 512);
    const uint64_t s = status_byte();
    return run({{header(blk::kTypeIn, sector), 16, false}, {data, len, true}, {s, 1, true}}, s);
  }
  Done write(uint64_t sector, const Bytes& bytes) {
    const uint64_t data = drv().put_bytes(bytes);
    const uint64_t s = status_byte();
    return run(
        {{header(blk::kTypeOut, sector), 16, false}, {data, static_cast<uint32_t>(bytes.size()), false}, {s, 1, true}},
        s);
  }
  Done simple(uint32_t type, uint64_t sector = 0) {
    const uint64_t s = status_byte();
    return run({{header(type, sector), 16, false}, {s, 1, true}}, s);
  }
  Done segments(uint32_t type, const std::vector<std::array<uint64_t, 3>>& segs) {
    Bytes table;
    for (const auto& [sector, n, flags] : segs) {
      for (int i = 0; i < 8; ++i) table.push_back(static_cast<uint8_t>(sector >> (8 * i)));
      for (int i = 0; i < 4; ++i) table.push_back(static_cast<uint8_t>(n >> (8 * i)));
      for (int i = 0; i < 4; ++i) table.push_back(static_cast<uint8_t>(flags >> (8 * i)));
    }
    const uint64_t t = drv().put_bytes(table);
    const uint64_t s = status_byte();
    return run({{header(type, 0), 16, false}, {t, static_cast<uint32_t>(table.size()), false}, {s, 1, true}}, s);
  }

  GuestMemory mem;
  boost::asio::io_context io;
  FakeEvents events;
  std::shared_ptr<BlkDevice> dev;
  std::vector<Queue> queues_;
  std::vector<std::unique_ptr<FakeDriver>> drivers;
};

}  // namespace wren::test
