#pragma once
// Fake machines for the live migration state machines: real GuestMemory,
// golden payloads (golden_machine.h), hooks where a test plays the guest (writing memory
// between rounds) or the operator, and a runner that migrates between them
// over an in-memory link.
#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <thread>

#include "golden_machine_checks.h"
#include "live_fake_destination.h"
#include "memory_contents.h"
#include "migrate/guest_pages.h"
#include "migrate/kinds.h"
#include "migrate/live/destination.h"
#include "migrate/live/frame.h"
#include "migrate/live/memory_channel.h"
#include "migrate/live/source.h"

namespace wren::migrate::live::testing {

// The message of the E that f() throws.
template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

// Fills page `index` of the low region with `value` (as the guest would).
inline void write_page(GuestMemory& memory, uint64_t index, uint8_t value) {
  ASSERT_TRUE(memory.fill(index * kPageSize, value, kPageSize));
}

class FakeSourceVm final : public SourceVm {
 public:
  explicit FakeSourceVm(std::vector<MemoryRegion> regions = small_layout())
      : memory_(std::move(regions)), config_(test_config(memory_.total_bytes())) {
    // Something in RAM before the migration starts (the rest stays zero).
    for (uint64_t i : {0, 3, 7, 20}) write_page(memory_, i, static_cast<uint8_t>(0xa0 + i));
    EXPECT_TRUE(memory_.fill(kHigh + 5 * kPageSize, 0x5a, kPageSize));
  }

  GuestMemory& guest_memory() { return memory_; }
  VmConfig config_value() const { return config_; }
  void set_config(VmConfig c) { config_ = std::move(c); }

  // Runs at every take_dirty_pages() before the pages are collected, with
  // the number of earlier calls: the guest's writes during the last round.
  std::function<void(int take)> on_take;
  // Runs at capture_payloads() (the guest is paused).
  std::function<void()> on_capture;
  std::vector<Payload> payloads = golden_machine::payloads();

  // Held by pause() and resume(): a guest thread writing under it never
  // writes while paused.
  std::mutex guest_lock;
  int starts = 0, stops = 0, takes = 0, pauses = 0, resumes = 0;
  bool paused = false;
  std::vector<uint8_t> memory_at_pause;

  VmConfig config() override { return config_; }
  const GuestMemory& memory() override { return memory_; }
  void start_dirty_tracking() override {
    ++starts;
    collect();  // forget earlier writes
  }
  void stop_dirty_tracking() override { ++stops; }
  std::vector<uint64_t> take_dirty_pages() override {
    if (on_take && !paused) on_take(takes);
    ++takes;
    return collect();
  }
  void pause() override {
    std::lock_guard lock(guest_lock);
    ++pauses;
    paused = true;
    memory_at_pause = contents(memory_);
  }
  void resume() override {
    std::lock_guard lock(guest_lock);
    ++resumes;
    paused = false;
  }
  std::vector<Payload> capture_payloads() override {
    EXPECT_TRUE(paused) << "payloads captured while running";
    if (on_capture) on_capture();
    return payloads;
  }

  // The guest runs here: never paused, or paused and resumed.
  bool running() const { return pauses == resumes; }
  bool tracking() const { return starts != stops; }

 private:
  std::vector<uint64_t> collect() {
    std::vector<uint64_t> pages;
    for (size_t i = 0; i < memory_.regions().size(); ++i)
      for (uint64_t gpa : pages_from_bitmap(memory_.regions()[i].gpa, memory_.take_dirty_bitmap(i)))
        pages.push_back(gpa);
    return pages;
  }

  GuestMemory memory_;
  VmConfig config_;
};

struct Outcome {
  SourceResult source;
  DestinationResult destination;
};

struct Scenario {
  SourceOptions source;
  DestinationOptions destination;
  MemoryChannelOptions link;
  // Wraps each side's channel (e.g. to record it); identity by default.
  std::function<Channel&(Channel&)> wrap_source = [](Channel& c) -> Channel& { return c; };
  std::function<Channel&(Channel&)> wrap_destination = [](Channel& c) -> Channel& { return c; };
  // Receives the source before it runs (to cancel it) and the raw channels.
  std::function<void(MigrationSource&)> with_source;
  std::function<void(Channel& source_end, Channel& destination_end)> with_channels;
};

// Deterministic pre-copy: exactly `rounds` rounds (the budget is never met
// while the guest writes something every round).
inline Scenario fixed_rounds(uint32_t rounds) {
  Scenario s;
  s.source.downtime = std::chrono::milliseconds{0};
  s.source.max_rounds = rounds;
  s.link.io_timeout = std::chrono::milliseconds{5000};
  return s;
}

inline Outcome migrate(FakeSourceVm& from, FakeDestinationVm& to, Scenario setup) {
  auto link = make_memory_channel_pair(setup.link);
  if (setup.with_channels) setup.with_channels(*link.first, *link.second);
  Outcome out;
  std::thread destination([&] {
    MigrationDestination incoming(to, setup.wrap_destination(*link.second), setup.destination);
    out.destination = incoming.run();
  });
  MigrationSource source(from, setup.wrap_source(*link.first), setup.source);
  if (setup.with_source) setup.with_source(source);
  out.source = source.run();
  destination.join();
  return out;
}

// The guest writes a few pages each round: page 3 changes every time (sent
// in round 1, then again), a new page gets data, and page 7 (data in round
// 1) becomes zero, which the destination must reproduce.
inline void busy_guest(FakeSourceVm& vm) {
  vm.on_take = [&vm](int take) {
    write_page(vm.guest_memory(), 3, static_cast<uint8_t>(0x30 + take));
    write_page(vm.guest_memory(), 30 + static_cast<uint64_t>(take), static_cast<uint8_t>(0x40 + take));
    write_page(vm.guest_memory(), 7, 0);
  };
}

// Every byte one side sent, with the frames found in it.
class RecordingChannel final : public Channel {
 public:
  explicit RecordingChannel(Channel& inner) : inner_(inner) {}
  void send(std::span<const uint8_t> data) override {
    sent.insert(sent.end(), data.begin(), data.end());
    inner_.send(data);
  }
  size_t receive_some(std::span<uint8_t> out) override { return inner_.receive_some(out); }
  bool readable() override { return inner_.readable(); }
  void close() override { inner_.close(); }
  void set_io_timeout(std::chrono::milliseconds t) override { inner_.set_io_timeout(t); }
  std::vector<uint8_t> sent;

 private:
  Channel& inner_;
};

struct FrameAt {
  MessageType type;
  uint64_t offset = 0;  // of its first byte in the direction
  uint64_t size = 0;    // on the wire
};

// Splits a recorded byte stream into frames.
inline std::vector<FrameAt> frames_in(const std::vector<uint8_t>& bytes) {
  MemoryChannelOptions options;
  options.capacity = bytes.size() + 1;
  auto pipe = make_memory_channel_pair(options);
  pipe.first->send(bytes);
  pipe.first->close();
  std::vector<FrameAt> frames;
  uint64_t offset = 0;
  while (offset < bytes.size()) {
    Frame f = receive_frame(*pipe.second);
    const uint64_t size = kFrameHeaderBytes + f.payload.size() + kFrameTrailerBytes;
    frames.push_back({f.type, offset, size});
    offset += size;
  }
  return frames;
}

inline std::vector<MessageType> types_of(const std::vector<FrameAt>& frames) {
  std::vector<MessageType> out;
  for (const auto& f : frames) out.push_back(f.type);
  return out;
}

}  // namespace wren::migrate::live::testing
