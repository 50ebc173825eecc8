// Queue behaviour: transport registers, pop / used ring, guest errors,
// notification suppression (with and without EVENT_IDX), undo_pop, reset.
#include <gtest/gtest.h>

#include <ostream>

#include "unit/virtio/fake_driver.h"
#include "virtio/queue.h"

namespace wren {
namespace {

namespace sr = split_ring;
constexpr uint64_t kRam = 0x100000;
constexpr uint16_t kSize = 8;

class QueueTest : public ::testing::Test {
 protected:
  void attach(bool event_idx = false) { drv.attach(q, event_idx); }
  uint16_t send_one(uint32_t len = 4) { return drv.send({{drv.alloc(len), len, true}}); }

  GuestMemory mem{{{0, kRam}}};
  FakeDriver drv{mem, kSize};
  Queue q{256, "test.q"};
};

TEST(QueueConstruction, MaxSizeMustBeAPowerOfTwoUpTo32768) {
  EXPECT_THROW(Queue(0), std::invalid_argument);
  EXPECT_THROW(Queue(3), std::invalid_argument);
  EXPECT_THROW(Queue(65535), std::invalid_argument);
  EXPECT_NO_THROW(Queue(32768));
  Queue q(64);
  EXPECT_EQ(q.max_size(), 64);
  EXPECT_EQ(q.size(), 64) << "size reads as the maximum until the driver writes it";
  EXPECT_FALSE(q.ready());
}

TEST_F(QueueTest, SetSizeRefusesInvalidSizes) {
  for (uint16_t bad : {0, 3, 100, 512}) {
    EXPECT_FALSE(q.set_size(bad)) << bad;
    EXPECT_EQ(q.size(), 256);
  }
  EXPECT_TRUE(q.set_size(1));
  EXPECT_TRUE(q.set_size(128));
  EXPECT_EQ(q.size(), 128);
}

TEST_F(QueueTest, RegistersAreFrozenWhileReady) {
  attach();
  EXPECT_TRUE(q.ready());
  EXPECT_FALSE(q.set_size(4));
  EXPECT_FALSE(q.set_desc_addr(0));
  EXPECT_FALSE(q.set_avail_addr(0));
  EXPECT_FALSE(q.set_used_addr(0));
  EXPECT_EQ(q.size(), kSize);
  EXPECT_EQ(q.desc_addr(), drv.desc_addr());
}

TEST_F(QueueTest, EnableRefusesMisalignedOrOutOfRamRings) {
  ASSERT_TRUE(q.set_size(kSize));
  ASSERT_TRUE(q.set_desc_addr(drv.desc_addr() + 8));
  ASSERT_TRUE(q.set_avail_addr(drv.avail_addr()));
  ASSERT_TRUE(q.set_used_addr(drv.used_addr()));
  EXPECT_EQ(q.enable(mem), QueueStateError::MisalignedRing);
  EXPECT_FALSE(q.ready());
  ASSERT_TRUE(q.set_desc_addr(kRam - 16));  // table of 8 entries runs past RAM
  EXPECT_EQ(q.enable(mem), QueueStateError::RingOutOfRange);
  EXPECT_FALSE(q.ready());
  ASSERT_TRUE(q.set_desc_addr(drv.desc_addr()));
  EXPECT_EQ(q.enable(mem), std::nullopt);
  EXPECT_TRUE(q.ready());
}

TEST_F(QueueTest, PopIsEmptyUntilReadyAndUntilPublished) {
  send_one();
  EXPECT_TRUE(q.pop(mem).is_empty()) << "not ready yet";
  attach();
  ChainResult r = q.pop(mem);
  ASSERT_TRUE(r.has_chain());
  EXPECT_TRUE(q.pop(mem).is_empty());
  EXPECT_FALSE(q.broken());
}

TEST_F(QueueTest, PopsInPublishOrder) {
  attach();
  const uint16_t a = send_one(), b = send_one(), c = send_one();
  EXPECT_EQ(q.available(mem), 3);
  EXPECT_EQ(q.pop(mem)->head(), a);
  EXPECT_EQ(q.pop(mem)->head(), b);
  EXPECT_EQ(q.pop(mem)->head(), c);
  EXPECT_EQ(q.available(mem), 0);
  EXPECT_EQ(q.next_avail(), 3);
}

TEST_F(QueueTest, AvailIdxExactlyOneQueueAheadIsFine) {
  attach();
  for (int i = 0; i < kSize; ++i) send_one();
  EXPECT_EQ(q.available(mem), kSize);
  for (int i = 0; i < kSize; ++i) EXPECT_TRUE(q.pop(mem).has_chain());
  EXPECT_FALSE(q.broken());
}

TEST_F(QueueTest, AvailIdxTooFarAheadBreaksTheQueue) {
  attach();
  drv.set_avail_idx(kSize + 1);
  ChainResult r = q.pop(mem);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ChainError::AvailIndexTooFar);
  EXPECT_TRUE(q.broken());
  EXPECT_EQ(q.error(), ChainError::AvailIndexTooFar);
  EXPECT_EQ(q.available(mem), 0);
  EXPECT_TRUE(q.pop(mem).is_empty()) << "a broken queue pops nothing";
}

TEST_F(QueueTest, AvailIdxBehindDeviceIsAlsoTooFar) {
  attach();
  drv.set_avail_idx(0xffff);  // "65535 ahead" of next_avail 0
  EXPECT_EQ(q.pop(mem).error(), ChainError::AvailIndexTooFar);
}

TEST_F(QueueTest, HeadOutOfRangeInAvailRingBreaksTheQueue) {
  attach();
  drv.set_avail_entry(0, kSize);
  drv.set_avail_idx(1);
  ChainResult r = q.pop(mem);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ChainError::IndexOutOfRange);
  EXPECT_EQ(q.next_avail(), 0);
}

TEST_F(QueueTest, MalformedChainBreaksTheQueueAndKeepsTheFirstError) {
  attach();
  drv.write_desc(7, {0x100, 4, sr::kDescNext, 7});  // self loop (7: the fake driver hands out 0 first)
  drv.publish(7);
  send_one();
  EXPECT_EQ(q.pop(mem).error(), ChainError::Loop);
  drv.set_avail_idx(100);
  EXPECT_TRUE(q.pop(mem).is_empty());
  EXPECT_EQ(q.error(), ChainError::Loop);
  EXPECT_EQ(q.error_count(), 1u);
  EXPECT_FALSE(q.add_used(mem, 0, 0)) << "a broken queue writes nothing";
  EXPECT_EQ(drv.used_idx(), 0);
}

TEST_F(QueueTest, AddUsedWritesElementThenIndex) {
  attach();
  const uint16_t a = send_one(), b = send_one();
  ChainResult ca = q.pop(mem), cb = q.pop(mem);
  ASSERT_TRUE(ca && cb);
  (void)mem.take_dirty_bitmap(0);
  // Complete out of order.
  ASSERT_TRUE(q.add_used(mem, cb->head(), 3));
  ASSERT_TRUE(q.add_used(mem, ca->head(), 4));
  EXPECT_EQ(drv.used_idx(), 2);
  EXPECT_EQ(q.next_used(), 2);
  auto u1 = drv.next_used(), u2 = drv.next_used();
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ(u1->id, b);
  EXPECT_EQ(u1->len, 3u);
  EXPECT_EQ(u2->id, a);
  EXPECT_EQ(u2->len, 4u);
  EXPECT_FALSE(drv.next_used());
  const uint64_t page = drv.used_addr() / 4096;
  EXPECT_TRUE(mem.take_dirty_bitmap(0)[page / 64] & (uint64_t{1} << (page % 64)))
      << "used ring write must be dirty-marked";
}

// A mergeable frame spread over several chains: the driver sees none of
// them until all are put, then all at once.
TEST_F(QueueTest, PutUsedStaysHiddenUntilPublished) {
  attach();
  const uint16_t a = send_one(), b = send_one(), c = send_one();
  ChainResult ca = q.pop(mem), cb = q.pop(mem), cc = q.pop(mem);
  ASSERT_TRUE(ca && cb && cc);
  ASSERT_TRUE(q.add_used(mem, ca->head(), 1));
  ASSERT_TRUE(q.put_used(mem, cb->head(), 2));
  ASSERT_TRUE(q.put_used(mem, cc->head(), 3));
  EXPECT_EQ(drv.used_idx(), 1) << "put elements are not visible yet";
  EXPECT_EQ(q.next_used(), 1);
  ASSERT_TRUE(q.publish_used(mem));
  EXPECT_EQ(drv.used_idx(), 3);
  EXPECT_EQ(q.next_used(), 3);
  for (auto [id, len] : {std::pair{a, 1u}, {b, 2u}, {c, 3u}}) {
    auto u = drv.next_used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->id, id);
    EXPECT_EQ(u->len, len);
  }
  ASSERT_TRUE(q.publish_used(mem)) << "publishing nothing new is harmless";
  EXPECT_EQ(drv.used_idx(), 3);
}

TEST_F(QueueTest, AddUsedRefusesHeadOutOfRange) {
  attach();
  EXPECT_FALSE(q.add_used(mem, kSize, 1));
  EXPECT_EQ(drv.used_idx(), 0);
  EXPECT_EQ(q.next_used(), 0);
  EXPECT_FALSE(q.broken()) << "a device bug, not a guest error";
}

TEST_F(QueueTest, RingsWrapManyTimes) {
  attach();
  for (int round = 0; round < 5 * kSize; ++round) {
    const uint16_t head = send_one(round + 1);
    ChainResult c = q.pop(mem);
    ASSERT_TRUE(c.has_chain()) << round;
    EXPECT_EQ(c->head(), head);
    EXPECT_EQ(c->writable_len(), static_cast<uint32_t>(round + 1));
    ASSERT_TRUE(q.add_used(mem, head, round));
    auto u = drv.next_used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->id, head);
    EXPECT_EQ(u->len, static_cast<uint32_t>(round));
  }
  EXPECT_FALSE(q.broken());
}

TEST_F(QueueTest, IndicesWrapAt65535) {
  QueueState s = drv.queue_state();
  s.next_avail = s.next_used = 65534;
  ASSERT_TRUE(q.restore(s, mem));
  drv.set_avail_idx(65534);
  std::vector<uint16_t> heads;
  for (int i = 0; i < 4; ++i) {
    const uint16_t head = send_one();
    heads.push_back(head);
    ChainResult c = q.pop(mem);
    ASSERT_TRUE(c.has_chain()) << i;
    EXPECT_EQ(c->head(), head);
    ASSERT_TRUE(q.add_used(mem, head, 10 + i));
  }
  EXPECT_EQ(q.next_avail(), 2);
  EXPECT_EQ(q.next_used(), 2);
  EXPECT_EQ(drv.used_idx(), 2);
  // used idx 65534, 65535, 0, 1 land in slots 6, 7, 0, 1.
  const uint16_t slots[] = {6, 7, 0, 1};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(drv.used_entry(slots[i]).id, heads[i]);
    EXPECT_EQ(drv.used_entry(slots[i]).len, static_cast<uint32_t>(10 + i));
  }
  EXPECT_FALSE(q.broken());
}

TEST_F(QueueTest, UndoPopReturnsTheSameChainAgain) {
  attach();
  const uint16_t a = send_one(), b = send_one();
  ChainResult first = q.pop(mem);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->head(), a);
  q.undo_pop();
  EXPECT_EQ(q.next_avail(), 0);
  EXPECT_EQ(q.available(mem), 2);
  EXPECT_EQ(q.pop(mem)->head(), a);
  EXPECT_EQ(q.pop(mem)->head(), b);
}

TEST_F(QueueTest, ResetClearsAllState) {
  attach(/*event_idx=*/true);
  send_one();
  ASSERT_TRUE(q.pop(mem));
  drv.set_avail_idx(100);
  EXPECT_TRUE(q.pop(mem).is_error());
  ASSERT_TRUE(q.broken());

  q.reset();
  QueueState expected;
  expected.size = 256;
  EXPECT_EQ(q.save(), expected);
  EXPECT_FALSE(q.ready());
  EXPECT_FALSE(q.broken());
  EXPECT_EQ(q.error(), std::nullopt);
  EXPECT_FALSE(q.event_idx());
  EXPECT_TRUE(q.pop(mem).is_empty());
  EXPECT_EQ(q.error_count(), 1u) << "lifetime counter survives reset";

  // The driver can set the queue up again from scratch.
  FakeDriver again{mem, kSize, 0x40000};
  again.attach(q);
  again.send({{0x100, 4, false}});
  EXPECT_TRUE(q.pop(mem).has_chain());
}

// ---- Interrupt suppression (device -> driver) -------------------------------

TEST_F(QueueTest, NoInterruptFlagWithoutEventIdx) {
  attach();
  ASSERT_TRUE(q.add_used(mem, 0, 0));
  EXPECT_TRUE(q.needs_notification(mem));
  drv.set_avail_flags(sr::kAvailNoInterrupt);
  ASSERT_TRUE(q.add_used(mem, 0, 0));
  EXPECT_FALSE(q.needs_notification(mem));
  drv.set_avail_flags(0);
  EXPECT_TRUE(q.needs_notification(mem));
}

TEST_F(QueueTest, NoInterruptFlagIgnoredUnderEventIdx) {
  attach(/*event_idx=*/true);
  EXPECT_TRUE(q.needs_notification(mem)) << "first check after enable always notifies";
  drv.set_avail_flags(sr::kAvailNoInterrupt);
  drv.set_used_event(0);
  ASSERT_TRUE(q.add_used(mem, 0, 0));
  EXPECT_TRUE(q.needs_notification(mem));
}

TEST_F(QueueTest, NotReadyNeverNotifies) { EXPECT_FALSE(q.needs_notification(mem)); }

// vring_need_event(event, new, old): notify iff event is in [old, new) mod 2^16.
struct EventCase {
  uint16_t old_idx;
  uint16_t added;
  uint16_t used_event;
  bool notify;
  friend std::ostream& operator<<(std::ostream& os, const EventCase& c) {
    return os << "old=" << c.old_idx << " added=" << c.added << " used_event=" << c.used_event
              << " notify=" << c.notify;
  }
};

class EventIdxMath : public QueueTest, public ::testing::WithParamInterface<EventCase> {};

TEST_P(EventIdxMath, MatchesVringNeedEvent) {
  const EventCase c = GetParam();
  QueueState s = drv.queue_state(/*event_idx=*/true);
  s.next_used = c.old_idx;
  ASSERT_TRUE(q.restore(s, mem));
  EXPECT_TRUE(q.needs_notification(mem)) << "unknown last-signalled index after restore";
  for (int i = 0; i < c.added; ++i) ASSERT_TRUE(q.add_used(mem, 0, 0));
  drv.set_used_event(c.used_event);
  EXPECT_EQ(q.needs_notification(mem), c.notify)
      << "old " << c.old_idx << " new " << static_cast<uint16_t>(c.old_idx + c.added) << " event " << c.used_event;
  EXPECT_FALSE(q.needs_notification(mem)) << "nothing new since the last check";
}

INSTANTIATE_TEST_SUITE_P(Cases, EventIdxMath,
                         ::testing::Values(EventCase{0, 1, 0, true},          // driver wants the very next one
                                           EventCase{0, 1, 1, false},         // driver waits for one more
                                           EventCase{0, 3, 2, true},          // crossed inside a batch
                                           EventCase{0, 3, 3, false},         // not yet reached
                                           EventCase{10, 2, 9, false},        // already passed before this batch
                                           EventCase{65534, 3, 65534, true},  // wrap: 65534,65535,0 used
                                           EventCase{65534, 3, 65535, true}, EventCase{65534, 3, 0, true},
                                           EventCase{65534, 3, 1, false}, EventCase{65534, 3, 65533, false},
                                           EventCase{65535, 1, 65535, true}, EventCase{65535, 1, 0, false}));

// ---- Kick suppression (driver -> device) ----------------------------------

TEST_F(QueueTest, NoNotifyFlagWithoutEventIdx) {
  attach();
  q.disable_notification(mem);
  EXPECT_EQ(drv.used_flags(), sr::kUsedNoNotify);
  EXPECT_FALSE(q.enable_notification(mem));
  EXPECT_EQ(drv.used_flags(), 0);
}

TEST_F(QueueTest, AvailEventUnderEventIdx) {
  attach(/*event_idx=*/true);
  send_one();
  send_one();
  ASSERT_TRUE(q.pop(mem));
  EXPECT_EQ(drv.avail_event(), 1) << "pop keeps avail_event at next_avail while notifications are on";
  q.disable_notification(mem);
  EXPECT_EQ(drv.used_flags(), 0) << "no flag under EVENT_IDX";
  ASSERT_TRUE(q.pop(mem));
  EXPECT_EQ(drv.avail_event(), 1) << "disabled: avail_event stays behind, so the driver stops kicking";
  EXPECT_FALSE(q.enable_notification(mem));
  EXPECT_EQ(drv.avail_event(), 2);
}

TEST_F(QueueTest, EnableNotificationRecheckCatchesRacingBuffers) {
  for (bool event_idx : {false, true}) {
    SCOPED_TRACE(event_idx ? "event_idx" : "flags");
    Queue queue{256};
    FakeDriver d{mem, kSize, event_idx ? uint64_t{0x60000} : uint64_t{0x50000}};
    d.attach(queue, event_idx);
    d.send({{0x100, 4, false}});
    queue.disable_notification(mem);
    while (queue.pop(mem)) {
    }
    // The driver adds a buffer while notifications are off: it would not kick.
    d.send({{0x100, 4, false}});
    EXPECT_TRUE(queue.enable_notification(mem)) << "must tell the device to keep polling";
    EXPECT_TRUE(queue.pop(mem).has_chain());
    EXPECT_FALSE(queue.enable_notification(mem)) << "nothing new now: safe to sleep";
  }
}

TEST_F(QueueTest, NotificationCallsOnADisabledQueueTouchNothing) {
  q.disable_notification(mem);
  EXPECT_FALSE(q.enable_notification(mem));
  EXPECT_EQ(drv.used_flags(), 0);
}

TEST(QueueLayout, LegacyRingPlacement) {
  const auto a = split_ring::legacy_ring_addresses(0x10000, 256);
  EXPECT_EQ(a.desc, 0x10000u);
  EXPECT_EQ(a.avail, 0x11000u);
  EXPECT_EQ(a.used, 0x12000u);  // 0x11000 + 6 + 512 rounded up to 4 KiB
  const auto b = split_ring::legacy_ring_addresses(0x10000, 8);
  EXPECT_EQ(b.avail, 0x10080u);
  EXPECT_EQ(b.used, 0x11000u);
}

}  // namespace
}  // namespace wren
