// BlkDevice against a fake guest driver and a temporary image: every request
// type end to end through io_uring, malformed chains, features and config,
// the in-flight bound, multiple queues, save/restore.
#include "virtio/blk/blk_device.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/post.hpp>

#include "unit/virtio/blk/blk_test_support.h"

namespace wren {
namespace {

using namespace test;
constexpr uint64_t kImage = 1 * kMiB;

Bytes pattern(uint64_t offset, uint64_t len) {
  Bytes b(len);
  for (uint64_t i = 0; i < len; ++i) b[i] = pattern_byte(offset + i);
  return b;
}

TEST(BlkDevice, OffersTheSpecFeatures) {
  BlkHarness h(make_image("f.img", kImage));
  const uint64_t f = h.dev->device_features();
  for (unsigned b : {VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH,
                     VIRTIO_BLK_F_TOPOLOGY, VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES})
    EXPECT_TRUE(f & fbit(b)) << b;
  EXPECT_FALSE(f & fbit(VIRTIO_BLK_F_RO));
  EXPECT_FALSE(f & fbit(VIRTIO_BLK_F_MQ));
  EXPECT_TRUE(f & kVirtioFVersion1);
  EXPECT_TRUE(f & kVirtioFRingEventIdx);
  EXPECT_TRUE(f & kVirtioFRingIndirectDesc);
  EXPECT_EQ(h.dev->device_type(), 2u);

  BlkHarness ro(make_image("ro.img", kImage), true, 2);
  const uint64_t g = ro.dev->device_features();
  EXPECT_TRUE(g & fbit(VIRTIO_BLK_F_RO));
  EXPECT_TRUE(g & fbit(VIRTIO_BLK_F_MQ));
  EXPECT_FALSE(g & fbit(VIRTIO_BLK_F_DISCARD));
  EXPECT_FALSE(g & fbit(VIRTIO_BLK_F_WRITE_ZEROES));
}

uint64_t config_le(BlkDevice& d, uint32_t offset, size_t n) {
  std::vector<uint8_t> b(n);
  d.read_config(offset, b);
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

TEST(BlkDevice, ConfigSpace) {
  BlkHarness h(make_image("c.img", 3 * kMiB), false, 4);
  BlkDevice& d = *h.dev;
  EXPECT_EQ(d.config_size(), 60u);
  EXPECT_EQ(config_le(d, 0, 8), 3 * kMiB / 512);       // capacity
  EXPECT_EQ(config_le(d, 8, 4), BlkDevice::kSizeMax);  // size_max
  EXPECT_EQ(config_le(d, 12, 4), 254u);                // seg_max
  EXPECT_EQ(config_le(d, 20, 4), 512u);                // blk_size
  EXPECT_EQ(config_le(d, 24, 1), 3u);                  // physical_block_exp: 4K physical
  EXPECT_EQ(config_le(d, 32, 1), 1u);                  // writeback
  EXPECT_EQ(config_le(d, 34, 2), 4u);                  // num_queues
  EXPECT_EQ(config_le(d, 40, 4), BlkDevice::kMaxDiscardSegments);
  EXPECT_EQ(config_le(d, 56, 1), 1u);  // write_zeroes_may_unmap
  EXPECT_EQ(config_le(d, 60, 4), 0u);  // past the end reads zero
}

TEST(BlkDevice, WritebackSwitchNeedsConfigWce) {
  BlkHarness h(make_image("w.img", kImage));
  const uint8_t off[1] = {0};
  h.dev->write_config(32, off);  // before negotiation: ignored
  EXPECT_EQ(config_le(*h.dev, 32, 1), 1u);
  ASSERT_TRUE(h.activate());
  h.dev->write_config(32, off);
  EXPECT_EQ(config_le(*h.dev, 32, 1), 0u);
  EXPECT_FALSE(h.dev->report().writeback);
  // Writes are then synchronous (RWF_DSYNC) and still land.
  EXPECT_EQ(h.write(0, Bytes(512, 0x5a)).status, blk::kStatusOk);
  EXPECT_EQ(read_file(h.dev->image().path(), 0, 512), Bytes(512, 0x5a));
  // Other config bytes are read-only.
  const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  h.dev->write_config(0, junk);
  EXPECT_EQ(config_le(*h.dev, 0, 8), kImage / 512);
}

TEST(BlkDevice, WithoutFlushTheDeviceIsWriteThrough) {
  BlkHarness h(make_image("wt.img", kImage));
  ASSERT_TRUE(h.activate(kVirtioFVersion1));
  EXPECT_EQ(config_le(*h.dev, 32, 1), 0u);
  EXPECT_FALSE(h.dev->report().writeback);
  EXPECT_EQ(h.simple(blk::kTypeFlush).status, blk::kStatusUnsupp);
}

TEST(BlkDevice, ReadReturnsTheImage) {
  BlkHarness h(make_image("r.img", kImage));
  ASSERT_TRUE(h.activate());
  uint64_t data = 0;
  const auto done = h.read(3, 4096, data);
  EXPECT_EQ(done.status, blk::kStatusOk);
  EXPECT_EQ(done.len, 4097u);
  EXPECT_EQ(h.drv().get_bytes(data, 4096), pattern(3 * 512, 4096));
  EXPECT_EQ(h.dev->report().counters.reads, 1u);
  EXPECT_EQ(h.dev->report().counters.bytes_read, 4096u);
  EXPECT_FALSE(h.events.used.empty());
}

TEST(BlkDevice, ReadIntoManyBuffersAndThroughIndirect) {
  BlkHarness h(make_image("ri.img", kImage));
  ASSERT_TRUE(h.activate(kBlkFeatures | kVirtioFRingIndirectDesc));
  const uint64_t a = h.drv().alloc(512), b = h.drv().alloc(1024), s = h.status_byte();
  h.drv().send_indirect({{h.header(blk::kTypeIn, 10), 16, false}, {a, 512, true}, {b, 1024, true}, {s, 1, true}});
  h.dev->queue_notify(0);
  auto u = h.wait_used();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->len, 1537u);
  EXPECT_EQ(h.status_at(s), blk::kStatusOk);
  EXPECT_EQ(h.drv().get_bytes(a, 512), pattern(10 * 512, 512));
  EXPECT_EQ(h.drv().get_bytes(b, 1024), pattern(11 * 512, 1024));
}

TEST(BlkDevice, WriteThenFlushReachesTheFile) {
  const std::string path = make_image("wr.img", kImage);
  BlkHarness h(path);
  ASSERT_TRUE(h.activate());
  Bytes data(2048);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i ^ 0xa5);
  const auto done = h.write(100, data);
  EXPECT_EQ(done.status, blk::kStatusOk);
  EXPECT_EQ(done.len, 1u);
  EXPECT_EQ(h.simple(blk::kTypeFlush).status, blk::kStatusOk);
  EXPECT_EQ(read_file(path, 100 * 512, 2048), data);
  EXPECT_EQ(read_file(path, 99 * 512, 512), pattern(99 * 512, 512));  // neighbours untouched
  const auto c = h.dev->report().counters;
  EXPECT_EQ(c.writes, 1u);
  EXPECT_EQ(c.flushes, 1u);
  EXPECT_EQ(c.bytes_written, 2048u);
  EXPECT_EQ(c.in_flight, 0u);
}

TEST(BlkDevice, GetIdReturnsTheSerial) {
  BlkHarness h(make_image("id.img", kImage));
  ASSERT_TRUE(h.activate());
  const uint64_t id = h.drv().alloc(20), s = h.status_byte();
  const auto done = h.run({{h.header(blk::kTypeGetId, 0), 16, false}, {id, 20, true}, {s, 1, true}}, s);
  EXPECT_EQ(done.status, blk::kStatusOk);
  EXPECT_EQ(done.len, 21u);
  Bytes want(20, 0);
  const std::string serial = "wren-disk-1";
  std::copy(serial.begin(), serial.end(), want.begin());
  EXPECT_EQ(h.drv().get_bytes(id, 20), want);
}

TEST(BlkDevice, GetIdShortBufferIsIoErrAndUntouched) {
  BlkHarness h(make_image("id2.img", kImage));
  ASSERT_TRUE(h.activate());
  const uint64_t id = h.drv().alloc(19), s = h.status_byte();
  ASSERT_TRUE(h.mem.fill(id, 0x77, 19));
  EXPECT_EQ(h.run({{h.header(blk::kTypeGetId, 0), 16, false}, {id, 19, true}, {s, 1, true}}, s).status,
            blk::kStatusIoErr);
  EXPECT_EQ(h.drv().get_bytes(id, 19), Bytes(19, 0x77));
}

bool is_zero(const Bytes& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

TEST(BlkDevice, DiscardPunchesAHole) {
  const std::string path = make_image("d.img", kImage);
  BlkHarness h(path);
  ASSERT_TRUE(h.activate());
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  EXPECT_EQ(h.segments(blk::kTypeDiscard, {{{256, 512, 0}}}).status, blk::kStatusOk);
  EXPECT_TRUE(is_zero(read_file(path, 256 * 512, 512 * 512)));
  EXPECT_EQ(read_file(path, 255 * 512, 512), pattern(255 * 512, 512));
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_LT(after.st_blocks, before.st_blocks);
  EXPECT_EQ(h.dev->report().counters.discards, 1u);
}

TEST(BlkDevice, WriteZeroesZeroesEveryRange) {
  const std::string path = make_image("z.img", kImage);
  BlkHarness h(path);
  ASSERT_TRUE(h.activate());
  EXPECT_EQ(h.segments(blk::kTypeWriteZeroes, {{{8, 8, 0}}, {{64, 16, blk::kWriteZeroesFlagUnmap}}}).status,
            blk::kStatusOk);
  EXPECT_TRUE(is_zero(read_file(path, 8 * 512, 8 * 512)));
  EXPECT_TRUE(is_zero(read_file(path, 64 * 512, 16 * 512)));
  EXPECT_EQ(read_file(path, 16 * 512, 512), pattern(16 * 512, 512));
}

TEST(BlkDevice, DiscardWithBadSegmentsIsRefusedBeforeIo) {
  const std::string path = make_image("db.img", kImage);
  BlkHarness h(path);
  ASSERT_TRUE(h.activate());
  EXPECT_EQ(h.segments(blk::kTypeDiscard, {{{0, 8, 1}}}).status, blk::kStatusUnsupp);  // unmap flag on discard
  EXPECT_EQ(h.segments(blk::kTypeDiscard, {{{0, 8, 0}}, {{2040, 16, 0}}}).status, blk::kStatusIoErr);
  EXPECT_EQ(read_file(path, 0, 4096), pattern(0, 4096));  // the good first segment was not applied
}

TEST(BlkDevice, UnknownTypeIsUnsupported) {
  BlkHarness h(make_image("u.img", kImage));
  ASSERT_TRUE(h.activate());
  EXPECT_EQ(h.simple(2).status, blk::kStatusUnsupp);  // SCSI passthrough
  EXPECT_EQ(h.simple(0x1234).status, blk::kStatusUnsupp);
  EXPECT_EQ(h.dev->report().counters.unsupported, 2u);
  EXPECT_EQ(h.events.needs_reset, 0);
}

TEST(BlkDevice, ReadOnlyDiskRefusesWritesWithIoErr) {
  const std::string path = make_image("ro2.img", kImage);
  BlkHarness h(path, true);
  ASSERT_TRUE(h.activate(kBlkFeatures & ~(fbit(VIRTIO_BLK_F_DISCARD) | fbit(VIRTIO_BLK_F_WRITE_ZEROES))));
  EXPECT_EQ(h.write(0, Bytes(512, 1)).status, blk::kStatusIoErr);
  EXPECT_EQ(read_file(path, 0, 512), pattern(0, 512));
  uint64_t data = 0;
  EXPECT_EQ(h.read(0, 512, data).status, blk::kStatusOk);
}

TEST(BlkDevice, OutOfRangeAndWrongDirectionAreIoErr) {
  const std::string path = make_image("oor.img", kImage);
  BlkHarness h(path);
  ASSERT_TRUE(h.activate());
  uint64_t data = 0;
  EXPECT_EQ(h.read(kImage / 512, 512, data).status, blk::kStatusIoErr);
  EXPECT_EQ(h.read(kImage / 512 - 1, 1024, data).status, blk::kStatusIoErr);
  EXPECT_EQ(h.write((UINT64_MAX / 512) + 1, Bytes(512, 9)).status, blk::kStatusIoErr);  // * 512 wraps to 0
  EXPECT_EQ(read_file(path, 0, 512), pattern(0, 512));
  // A "read" whose data buffer is device-readable.
  const uint64_t buf = h.drv().alloc(512), s = h.status_byte();
  EXPECT_EQ(h.run({{h.header(blk::kTypeIn, 0), 16, false}, {buf, 512, false}, {s, 1, true}}, s).status,
            blk::kStatusIoErr);
  // A "write" whose data buffer is device-writable.
  const uint64_t buf2 = h.drv().alloc(512), s2 = h.status_byte();
  ASSERT_TRUE(h.mem.fill(buf2, 0x33, 512));
  EXPECT_EQ(h.run({{h.header(blk::kTypeOut, 0), 16, false}, {buf2, 512, true}, {s2, 1, true}}, s2).status,
            blk::kStatusIoErr);
  EXPECT_EQ(h.drv().get_bytes(buf2, 512), Bytes(512, 0x33));
  EXPECT_EQ(h.dev->report().counters.io_errors, 5u);
  EXPECT_EQ(h.events.needs_reset, 0);
}

TEST(BlkDevice, ChainWithoutStatusNeedsReset) {
  BlkHarness h(make_image("ns.img", kImage));
  ASSERT_TRUE(h.activate());
  h.drv().send({{h.header(blk::kTypeFlush, 0), 16, false}});  // no writable byte at all
  h.dev->queue_notify(0);
  auto u = h.wait_used();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->len, 0u);
  EXPECT_EQ(h.events.needs_reset, 1);
  EXPECT_EQ(h.dev->report().counters.malformed, 1u);
}

TEST(BlkDevice, ShortHeaderNeedsResetAndWritesNothing) {
  BlkHarness h(make_image("sh.img", kImage));
  ASSERT_TRUE(h.activate());
  const uint64_t s = h.status_byte();
  h.drv().send({{h.header(blk::kTypeIn, 0), 8, false}, {s, 1, true}});
  h.dev->queue_notify(0);
  auto u = h.wait_used();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->len, 0u);
  EXPECT_EQ(h.status_at(s), 0xee);
  EXPECT_EQ(h.events.needs_reset, 1);
}

TEST(BlkDevice, StatusInsideALargerWritableBufferIsItsLastByte) {
  // Any framing is legal: data and status in one descriptor.
  BlkHarness h(make_image("af.img", kImage));
  ASSERT_TRUE(h.activate());
  const uint64_t buf = h.drv().alloc(513);
  ASSERT_TRUE(h.mem.fill(buf + 512, 0xee, 1));
  h.drv().send({{h.header(blk::kTypeIn, 1), 16, false}, {buf, 513, true}});
  h.dev->queue_notify(0);
  auto u = h.wait_used();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->len, 513u);
  EXPECT_EQ(h.drv().get_bytes(buf + 512, 1)[0], blk::kStatusOk);
  EXPECT_EQ(h.drv().get_bytes(buf, 512), pattern(512, 512));
}

TEST(BlkDevice, InFlightBoundStopsPoppingUntilACompletion) {
  BlkHarness h(make_image("b.img", kImage), false, 1, /*max_in_flight=*/2);
  ASSERT_TRUE(h.activate());
  std::vector<uint64_t> status;
  for (int i = 0; i < 6; ++i) {
    const uint64_t d = h.drv().alloc(4096, 512), s = h.status_byte();
    status.push_back(s);
    h.drv().send({{h.header(blk::kTypeIn, static_cast<uint64_t>(i) * 8), 16, false}, {d, 4096, true}, {s, 1, true}});
  }
  h.dev->queue_notify(0);
  EXPECT_LE(h.dev->report().counters.in_flight, 2u);
  EXPECT_EQ(h.queues_[0].available(h.mem), 4u);  // the rest wait in the ring
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(h.wait_used()) << i;
  for (uint64_t s : status) EXPECT_EQ(h.status_at(s), blk::kStatusOk);
  EXPECT_EQ(h.dev->report().counters.reads, 6u);
  EXPECT_EQ(h.dev->report().counters.in_flight, 0u);
}

TEST(BlkDevice, EveryQueueServesRequests) {
  BlkHarness h(make_image("mq.img", kImage), false, 3);
  ASSERT_TRUE(h.activate(kBlkFeatures | fbit(VIRTIO_BLK_F_MQ)));
  for (uint16_t q = 0; q < 3; ++q) {
    const uint64_t d = h.drv(q).alloc(512, 512), s = h.drv(q).alloc(1);
    h.drv(q).send({{h.header(blk::kTypeIn, q, q), 16, false}, {d, 512, true}, {s, 1, true}});
    h.dev->queue_notify(q);
    ASSERT_TRUE(h.wait_used(q)) << q;
    EXPECT_EQ(h.drv(q).get_bytes(s, 1)[0], blk::kStatusOk);
    EXPECT_EQ(h.drv(q).get_bytes(d, 512), pattern(q * 512, 512));
  }
}

TEST(BlkDevice, CompletionsArriveThroughTheEventLoop) {
  BlkHarness h(make_image("el.img", kImage));
  ASSERT_TRUE(h.activate());
  const uint64_t d = h.drv().alloc(512, 512), s = h.status_byte();
  h.drv().send({{h.header(blk::kTypeIn, 0), 16, false}, {d, 512, true}, {s, 1, true}});
  h.dev->queue_notify(0);
  std::optional<split_ring::UsedElement> u;
  for (int i = 0; i < 2000 && !u; ++i) {
    h.io.run_one_for(std::chrono::milliseconds(5));
    u = h.drv().next_used();
  }
  ASSERT_TRUE(u);
  EXPECT_EQ(h.status_at(s), blk::kStatusOk);
}

// Issue 13: an exception in a blk turn (here from the interrupt path) sets
// NEEDS_RESET instead of escaping to the event loop, which would end the VMM
// and every other device; the loop goes on. A kick, as an ioeventfd delivers
// it on the loop, and an I/O completion are both turns.
TEST(BlkDevice, ExceptionInATurnSetsNeedsResetAndTheLoopGoesOn) {
  {
    BlkHarness h(make_image("ex1.img", kImage));
    ASSERT_TRUE(h.activate());
    h.events.throw_on_used = true;
    const uint64_t s = h.status_byte();
    h.drv().send({{h.header(0xff, 0), 16, false}, {s, 1, true}});  // answered UNSUPP in the kick's turn
    bool later_work_ran = false;
    boost::asio::post(h.io, [&] { h.dev->queue_notify(0); });
    boost::asio::post(h.io, [&] { later_work_ran = true; });
    EXPECT_NO_THROW(h.io.poll()) << "before the fix the exception left the event loop";
    EXPECT_TRUE(later_work_ran);
    EXPECT_EQ(h.events.needs_reset, 1);
    EXPECT_EQ(h.status_at(s), blk::kStatusUnsupp);
  }
  {
    BlkHarness h(make_image("ex2.img", kImage));
    ASSERT_TRUE(h.activate());
    const uint64_t d = h.drv().alloc(512, 512), s = h.status_byte();
    h.drv().send({{h.header(blk::kTypeIn, 0), 16, false}, {d, 512, true}, {s, 1, true}});
    h.dev->queue_notify(0);
    h.events.throw_on_used = true;  // the completion's turn throws
    for (int i = 0; i < 2000 && h.events.needs_reset == 0; ++i)
      EXPECT_NO_THROW(h.io.run_one_for(std::chrono::milliseconds(5)));
    EXPECT_EQ(h.events.needs_reset, 1);
    EXPECT_EQ(h.status_at(s), blk::kStatusOk) << "the request itself completed";
    // The device lock was released and the loop still serves the device.
    h.events.throw_on_used = false;
    EXPECT_EQ(h.simple(0xff).status, blk::kStatusUnsupp);
  }
}

TEST(BlkDevice, BrokenQueueNeedsReset) {
  BlkHarness h(make_image("bq.img", kImage));
  ASSERT_TRUE(h.activate());
  h.drv().set_avail_entry(0, 500);  // head out of range
  h.drv().set_avail_idx(1);
  h.dev->queue_notify(0);
  EXPECT_EQ(h.events.needs_reset, 1);
}

TEST(BlkDevice, ResetForgetsRequestsAndReactivates) {
  BlkHarness h(make_image("rs.img", kImage));
  ASSERT_TRUE(h.activate());
  const uint64_t d = h.drv().alloc(4096, 512), s = h.status_byte();
  h.drv().send({{h.header(blk::kTypeIn, 0), 16, false}, {d, 4096, true}, {s, 1, true}});
  h.dev->queue_notify(0);
  h.dev->reset();
  EXPECT_EQ(h.dev->report().counters.in_flight, 0u);
  EXPECT_FALSE(h.dev->report().active);
}

TEST(BlkDevice, SaveRecordsInFlightAndRestoreReexecutesThem) {
  const std::string path = make_image("mig.img", kImage);
  BlkHarness src(path, /*read_only=*/true);  // readers share the image lock
  ASSERT_TRUE(src.activate(kBlkFeatures & src.dev->device_features()));
  const uint64_t d = src.drv().alloc(4096, 512), s = src.status_byte();
  src.drv().send({{src.header(blk::kTypeIn, 16), 16, false}, {d, 4096, true}, {s, 1, true}});
  src.dev->queue_notify(0);
  const BlkDevice::State st = src.dev->save();
  EXPECT_EQ(st.capacity_bytes, kImage);
  ASSERT_EQ(st.in_flight.size(), 1u);
  ASSERT_EQ(st.in_flight[0].size(), 1u);  // popped, completion not yet handled
  EXPECT_TRUE(st.active);

  // The destination: same guest memory contents, same queue state.
  BlkHarness dst(path, true);
  std::vector<uint8_t> ram(4 * kMiB);
  ASSERT_TRUE(src.mem.read(0, ram));
  ASSERT_TRUE(dst.mem.write(0, ram));
  ASSERT_TRUE(dst.mem.fill(d, 0, 4096));
  ASSERT_EQ(dst.dev->validate(st), std::nullopt);
  ASSERT_EQ(dst.dev->restore(st), std::nullopt);
  ASSERT_TRUE(dst.queues_[0].restore(src.queues_[0].save(), dst.mem));
  ActivationContext ctx{st.features, &dst.mem, std::span<Queue>(dst.queues_)};
  ASSERT_TRUE(dst.dev->activate(ctx));
  auto u = dst.wait_used();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->len, 4097u);
  EXPECT_EQ(dst.status_at(s), blk::kStatusOk);
  EXPECT_EQ(dst.drv().get_bytes(d, 4096), pattern(16 * 512, 4096));

  // The source, resumed (a snapshot), completes it too.
  EXPECT_TRUE(src.wait_used());
}

TEST(BlkDevice, RestoreRefusesAnotherImage) {
  BlkHarness a(make_image("a.img", kImage), true);
  BlkHarness b(make_image("b2.img", kImage), true);
  BlkHarness c(make_image("c2.img", 2 * kMiB), true);
  ASSERT_TRUE(a.activate(kVirtioFVersion1));
  const auto st = a.dev->save();
  EXPECT_NE(b.dev->validate(st), std::nullopt);  // same size, another file
  EXPECT_NE(c.dev->validate(st), std::nullopt);  // another size
  auto bad = st;
  bad.in_flight.assign(1, std::vector<uint16_t>(200, 0));
  BlkHarness a2(a.dev->image().path(), true);
  EXPECT_EQ(a2.dev->validate(st), std::nullopt);
  EXPECT_NE(a2.dev->validate(bad), std::nullopt);
  bad = st;
  bad.features |= uint64_t{1} << 40;
  EXPECT_NE(a2.dev->validate(bad), std::nullopt);
}

}  // namespace
}  // namespace wren
