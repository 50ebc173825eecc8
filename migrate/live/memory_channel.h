#pragma once
// Two connected in-memory channels, for testing the protocol without
// sockets, with the faults a real link has: a reset (both ends fail), a
// silent cut (bytes vanish, readers and then writers time out), a corrupted
// byte, limited bandwidth, a peer that stops sending but keeps reading. Each direction holds at most `capacity` bytes
// in flight, so a writer blocks like on a socket whose buffers are full. "The peer dies" is closing its end from any
// thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "migrate/live/channel.h"

namespace wren::migrate::live {

// The faults of one direction; offsets count the bytes written into it.
struct LinkFaults {
  // Bytes before the offset arrive, then the connection is reset.
  std::optional<uint64_t> reset_after;
  // Bytes from the offset on are lost without an error (they still take
  // room in the direction, so the writer stalls once it is full).
  std::optional<uint64_t> blackhole_after;
  // The byte at this offset arrives inverted.
  std::optional<uint64_t> corrupt_at;
  // Bytes before the offset arrive, then the stream ends as after a TCP
  // half-close (shutdown of the writer's sending side): the reader sees the
  // end, the writer fails to send more but can still receive.
  std::optional<uint64_t> end_after;
  uint64_t bytes_per_second = 0;  // 0: as fast as memory
};

struct MemoryChannelOptions {
  size_t capacity = 1 << 20;  // per direction
  std::chrono::milliseconds io_timeout = kDefaultIoTimeout;
  LinkFaults to_second;  // first -> second
  LinkFaults to_first;   // second -> first
};

struct MemoryChannelPair {
  std::unique_ptr<Channel> first;
  std::unique_ptr<Channel> second;
};

[[nodiscard]] MemoryChannelPair make_memory_channel_pair(const MemoryChannelOptions& options = {});

}  // namespace wren::migrate::live
