// Queue save()/restore(): restored state is untrusted input.
#include <gtest/gtest.h>

#include "unit/virtio/fake_driver.h"
#include "virtio/queue.h"

namespace wren {
namespace {

constexpr uint64_t kRam = 0x100000;
constexpr uint16_t kSize = 16;

class QueueStateTest : public ::testing::Test {
 protected:
  // Expects restore to refuse `s` for `why`, leaving the queue as it was.
  void expect_refused(const QueueState& s, QueueStateError why) {
    const QueueState before = q.save();
    EXPECT_EQ(Queue::check(s, q.max_size(), mem), why);
    EXPECT_FALSE(q.restore(s, mem));
    EXPECT_EQ(q.save(), before);
  }

  GuestMemory mem{{{0, kRam}}};
  FakeDriver drv{mem, kSize};
  Queue q{256};
};

TEST_F(QueueStateTest, RoundTripAfterTraffic) {
  drv.attach(q, /*event_idx=*/true);
  std::vector<uint16_t> heads;
  for (int i = 0; i < 3; ++i) heads.push_back(drv.send({{drv.alloc(8), 8, true}}));
  ChainResult a = q.pop(mem), b = q.pop(mem);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(q.add_used(mem, a->head(), 8));
  const QueueState saved = q.save();
  EXPECT_EQ(saved.size, kSize);
  EXPECT_TRUE(saved.ready);
  EXPECT_EQ(saved.next_avail, 2);
  EXPECT_EQ(saved.next_used, 1);
  EXPECT_TRUE(saved.event_idx);

  Queue restored{256};
  ASSERT_TRUE(restored.restore(saved, mem));
  EXPECT_EQ(restored.save(), saved);
  // It carries on where the source left off.
  ChainResult c = restored.pop(mem);
  ASSERT_TRUE(c.has_chain());
  EXPECT_EQ(c->head(), heads[2]);
  EXPECT_EQ(restored.next_avail(), 3);
  ASSERT_TRUE(restored.add_used(mem, b->head(), 1));
  EXPECT_EQ(drv.used_idx(), 2);
}

TEST_F(QueueStateTest, DisabledQueueRoundTripsWithAnyAddresses) {
  QueueState s;
  s.size = 64;
  s.desc_addr = 0xdeadbeef;  // a disabled queue's registers may hold anything
  s.avail_addr = UINT64_MAX;
  s.used_addr = 3;
  ASSERT_TRUE(q.restore(s, mem));
  EXPECT_EQ(q.save(), s);
  EXPECT_TRUE(q.pop(mem).is_empty());
}

TEST_F(QueueStateTest, RefusesBadSizes) {
  for (uint16_t size : {0, 3, 24, 512, 32768}) {
    QueueState s = drv.queue_state();
    s.size = size;
    SCOPED_TRACE(size);
    expect_refused(s, QueueStateError::BadSize);
    s.ready = false;  // size is checked even for a disabled queue
    expect_refused(s, QueueStateError::BadSize);
  }
}

TEST_F(QueueStateTest, RefusesMisalignedRings) {
  QueueState s = drv.queue_state();
  s.desc_addr += 8;
  expect_refused(s, QueueStateError::MisalignedRing);
  s = drv.queue_state();
  s.avail_addr += 1;
  expect_refused(s, QueueStateError::MisalignedRing);
  s = drv.queue_state();
  s.used_addr += 2;
  expect_refused(s, QueueStateError::MisalignedRing);
}

TEST_F(QueueStateTest, RefusesRingsOutsideRam) {
  QueueState s = drv.queue_state();
  s.desc_addr = kRam - 16 * kSize + 16;  // last descriptor past the end
  expect_refused(s, QueueStateError::RingOutOfRange);

  s = drv.queue_state();
  s.avail_addr = kRam - (6 + 2 * kSize) + 2;  // only used_event past the end
  expect_refused(s, QueueStateError::RingOutOfRange);

  s = drv.queue_state();
  s.used_addr = kRam - 132;  // 134-byte ring, 4-aligned: only avail_event's last 2 bytes past the end
  expect_refused(s, QueueStateError::RingOutOfRange);

  s = drv.queue_state();
  s.used_addr = UINT64_MAX & ~uint64_t{3};  // wraps
  expect_refused(s, QueueStateError::RingOutOfRange);

  s = drv.queue_state();
  s.avail_addr = kRam - (6 + 2 * kSize);  // exactly fits
  EXPECT_TRUE(q.restore(s, mem));
}

TEST_F(QueueStateTest, AnyIndicesAreAcceptedAndPopJudgesTheDistance) {
  // next_avail is a device-side counter; how far the guest's avail idx is
  // from it is guest-controlled, so restore accepts it and pop() checks.
  QueueState s = drv.queue_state();
  s.next_avail = 1000;
  s.next_used = 40000;
  ASSERT_TRUE(q.restore(s, mem));
  EXPECT_EQ(q.save(), s);
  ChainResult r = q.pop(mem);  // avail idx in RAM is 0: 64536 ahead
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ChainError::AvailIndexTooFar);
}

TEST_F(QueueStateTest, RestoreClearsABrokenQueue) {
  drv.attach(q);
  drv.set_avail_idx(1000);
  EXPECT_TRUE(q.pop(mem).is_error());
  ASSERT_TRUE(q.broken());
  drv.set_avail_idx(0);
  ASSERT_TRUE(q.restore(drv.queue_state(), mem));
  EXPECT_FALSE(q.broken());
}

TEST_F(QueueStateTest, RestoreOnlyAcceptsSizesWithinThisQueuesMaximum) {
  Queue small{8};
  QueueState s = drv.queue_state();  // size 16
  EXPECT_EQ(Queue::check(s, small.max_size(), mem), QueueStateError::BadSize);
  EXPECT_FALSE(small.restore(s, mem));
}

TEST(QueueStateErrorNames, Distinct) {
  EXPECT_NE(to_string(QueueStateError::BadSize), to_string(QueueStateError::MisalignedRing));
  EXPECT_NE(to_string(QueueStateError::MisalignedRing), to_string(QueueStateError::RingOutOfRange));
}

}  // namespace
}  // namespace wren
