// The channels a migration runs over: the in-memory pair and its injected
// faults, and TCP on 127.0.0.1 (address parsing, timeouts, close from
// another thread, a whole migration end to end).
#include <gtest/gtest.h>

#include <thread>

#include "live_fakes.h"
#include "migrate/live/tcp_channel.h"

namespace wren::migrate::live {
namespace {

using namespace testing;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::vector<uint8_t> bytes(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7);
  return v;
}

// ---- in-memory pair -----------------------------------------------------------

TEST(MemoryChannel, CarriesBytesBothWaysThroughASmallBuffer) {
  MemoryChannelOptions options;
  options.capacity = 1000;
  auto pipe = make_memory_channel_pair(options);
  const auto data = bytes(100000);
  std::thread writer([&] { pipe.first->send(data); });
  std::vector<uint8_t> got(data.size());
  pipe.second->receive(got);
  writer.join();
  EXPECT_EQ(got, data);
  pipe.second->send(std::vector<uint8_t>{9});
  uint8_t one = 0;
  pipe.first->receive(std::span(&one, 1));
  EXPECT_EQ(one, 9);
}

TEST(MemoryChannel, CloseDeliversWhatWasSentThenTheEnd) {
  auto pipe = make_memory_channel_pair();
  pipe.first->send(bytes(10));
  pipe.first->close();
  std::vector<uint8_t> got(10);
  pipe.second->receive(got);
  EXPECT_EQ(got, bytes(10));
  EXPECT_TRUE(pipe.second->readable());
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.second->receive(got); }), "connection closed by the peer");
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.second->send(got); }), "connection closed by the peer");
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.first->send(got); }), "channel closed");
}

TEST(MemoryChannel, CloseFromAnotherThreadUnblocksAReceive) {
  auto pipe = make_memory_channel_pair();
  std::thread closer([&] {
    std::this_thread::sleep_for(milliseconds{20});
    pipe.second->close();
  });
  uint8_t b[1];
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.second->receive(b); }), "channel closed");
  closer.join();
}

TEST(MemoryChannel, ResetAfterDeliversTheBytesBeforeIt) {
  MemoryChannelOptions options;
  options.to_second.reset_after = 5;
  auto pipe = make_memory_channel_pair(options);
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.first->send(bytes(10)); }), "connection reset");
  std::vector<uint8_t> got(5);
  pipe.second->receive(got);
  EXPECT_EQ(got, bytes(5));
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.second->receive(got); }), "connection reset");
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.second->send(got); }), "connection reset");
}

TEST(MemoryChannel, EndAfterEndsOneDirectionOnly) {
  MemoryChannelOptions options;
  options.to_second.end_after = 5;
  auto pipe = make_memory_channel_pair(options);
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.first->send(bytes(10)); }), "sending side shut down");
  std::vector<uint8_t> got(5);
  pipe.second->receive(got);
  EXPECT_EQ(got, bytes(5));
  EXPECT_TRUE(pipe.second->readable());
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.second->receive(got); }), "connection closed by the peer");
  // The other way still works: the reader can answer, the writer reads it.
  pipe.second->send(bytes(3));
  std::vector<uint8_t> answer(3);
  pipe.first->receive(answer);
  EXPECT_EQ(answer, bytes(3));
}

TEST(MemoryChannel, EndAfterZeroIsAnEmptyStream) {
  MemoryChannelOptions options;
  options.to_second.end_after = 0;
  auto pipe = make_memory_channel_pair(options);
  uint8_t b[1];
  EXPECT_EQ(error_of<ChannelError>([&] { pipe.second->receive(b); }), "connection closed by the peer");
}

TEST(MemoryChannel, BlackholeOnlyTimesOut) {
  MemoryChannelOptions options;
  options.capacity = 64;
  options.io_timeout = milliseconds{50};
  options.to_second.blackhole_after = 4;
  auto pipe = make_memory_channel_pair(options);
  // The writer gets no error until the lost bytes fill the direction.
  EXPECT_EQ(error_of<ChannelTimeout>([&] { pipe.first->send(bytes(200)); }), "no progress sending for 50 ms");
  std::vector<uint8_t> got(4);
  pipe.second->receive(got);
  EXPECT_EQ(got, bytes(4));
  const auto started = Clock::now();
  EXPECT_EQ(error_of<ChannelTimeout>([&] { pipe.second->receive(got); }), "no progress receiving for 50 ms");
  EXPECT_GE(Clock::now() - started, milliseconds{50});
}

TEST(MemoryChannel, CorruptsOneByte) {
  MemoryChannelOptions options;
  options.to_second.corrupt_at = 3;
  auto pipe = make_memory_channel_pair(options);
  pipe.first->send(bytes(2));
  pipe.first->send(bytes(6));
  std::vector<uint8_t> got(8);
  pipe.second->receive(got);
  auto want = bytes(2);
  auto second = bytes(6);
  second[1] ^= 0xff;
  want.insert(want.end(), second.begin(), second.end());
  EXPECT_EQ(got, want);
}

TEST(MemoryChannel, Throttles) {
  MemoryChannelOptions options;
  options.to_second.bytes_per_second = 4 << 20;
  options.capacity = 4 << 20;
  auto pipe = make_memory_channel_pair(options);
  const auto started = Clock::now();
  pipe.first->send(bytes(1 << 20));  // 250 ms at 4 MiB/s
  EXPECT_GE(Clock::now() - started, milliseconds{240});
}

// ---- TCP address --------------------------------------------------------------

TEST(TcpAddress, Parses) {
  auto a = parse_tcp_address("tcp:10.0.0.2:4444");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->host, "10.0.0.2");
  EXPECT_EQ(a->port, 4444);
  auto v6 = parse_tcp_address("tcp:[fe80::1%veth0]:1");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->host, "fe80::1%veth0");
  EXPECT_EQ(v6->to_string(), "[fe80::1%veth0]:1");
  auto name = parse_tcp_address("tcp:dest-host.example:65535");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->to_string(), "dest-host.example:65535");
  auto any = parse_tcp_address("tcp:0.0.0.0:0", true);
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->port, 0);
}

TEST(TcpAddress, ClearErrors) {
  auto error = [](const char* spec, bool listening = false) { return parse_tcp_address(spec, listening).error(); };
  EXPECT_EQ(error("unix:/tmp/x"), "'unix:/tmp/x': unsupported transport 'unix' (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("10.0.0.2:4444"), "'10.0.0.2:4444': missing the tcp: prefix (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:10.0.0.2"), "'tcp:10.0.0.2': missing :PORT (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp::4444"), "'tcp::4444': missing host (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp::4444", true),
            "'tcp::4444': missing address (0.0.0.0 listens on every IPv4 address) (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:::1:4444"),
            "'tcp:::1:4444': an IPv6 address goes in brackets, e.g. tcp:[::1]:4444 "
            "(expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:[::1:4444"), "'tcp:[::1:4444': missing ']' after the IPv6 address (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:host:0"), "'tcp:host:0': port '0' is not a number 1..65535 (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:host:65536"),
            "'tcp:host:65536': port '65536' is not a number 1..65535 (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:host:44x"), "'tcp:host:44x': port '44x' is not a number 1..65535 (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:host:0044444"),
            "'tcp:host:0044444': port '0044444' is not a number 1..65535 (expected tcp:HOST:PORT)");
  EXPECT_EQ(error("tcp:ho st:1"), "'tcp:ho st:1': bad host 'ho st' (expected tcp:HOST:PORT)");
}

// ---- TCP on loopback ----------------------------------------------------------

const TcpAddress kLoopback{"127.0.0.1", 0};

// Both ends of one loopback connection; `client` with `io_timeout`.
struct Connected {
  std::unique_ptr<TcpChannel> server;
  std::unique_ptr<TcpChannel> client;
  uint16_t port = 0;
};

Connected connect_on_loopback(milliseconds io_timeout = kDefaultIoTimeout) {
  TcpListener listener(kLoopback);
  Connected c;
  c.port = listener.port();
  std::thread accepter([&] { c.server = listener.accept(); });
  c.client = TcpChannel::connect({"127.0.0.1", c.port}, io_timeout);
  accepter.join();
  return c;
}

TEST(TcpChannel, CarriesBytesAndEndsCleanly) {
  TcpListener listener(kLoopback);
  const TcpAddress at{"127.0.0.1", listener.port()};
  const auto data = bytes(3 << 20);
  std::thread peer([&] {
    auto c = listener.accept(milliseconds{5000}, milliseconds{5000});
    std::vector<uint8_t> got(data.size());
    c->receive(got);
    EXPECT_EQ(got, data);
    c->send(std::vector<uint8_t>{42});
    c->close();
  });
  auto c = TcpChannel::connect(at, milliseconds{5000});
  EXPECT_EQ(c->peer(), at.to_string());
  c->send(data);
  uint8_t answer[1];
  c->receive(answer);
  EXPECT_EQ(answer[0], 42);
  peer.join();
  EXPECT_TRUE(c->readable());
  EXPECT_EQ(error_of<ChannelError>([&] { c->receive(answer); }), "connection closed by " + at.to_string());
}

TEST(TcpChannel, SilentPeerTimesOut) {
  const Connected link = connect_on_loopback(milliseconds{150});
  const auto& c = link.client;  // a reference, not a binding: lambdas capture it
  const auto started = Clock::now();
  uint8_t b[1];
  EXPECT_EQ(error_of<ChannelTimeout>([&] { c->receive(b); }),
            "no progress receiving from 127.0.0.1:" + std::to_string(link.port) + " for 150 ms");
  EXPECT_LT(Clock::now() - started, milliseconds{2000});
  // Once timed out the channel is done.
  EXPECT_THROW(c->send(std::vector<uint8_t>{1}), ChannelError);
}

TEST(TcpChannel, SenderStallsIntoATimeout) {
  const Connected link = connect_on_loopback(milliseconds{200});
  const auto& c = link.client;        // a reference, not a binding: lambdas capture it
  const auto data = bytes(64 << 20);  // far more than socket buffers hold
  EXPECT_TRUE(error_of<ChannelTimeout>([&] { c->send(data); }).starts_with("no progress sending to 127.0.0.1:"));
}

TEST(TcpChannel, CloseFromAnotherThreadUnblocksAReceive) {
  const Connected link = connect_on_loopback();
  const auto& c = link.client;  // a reference, not a binding: lambdas capture it
  std::thread closer([&] {
    std::this_thread::sleep_for(milliseconds{50});
    c->close();
  });
  const auto started = Clock::now();
  uint8_t b[1];
  EXPECT_EQ(error_of<ChannelError>([&] { c->receive(b); }), "channel closed");
  EXPECT_LT(Clock::now() - started, milliseconds{2000});
  closer.join();
  // The peer sees the end of the stream.
  EXPECT_THROW(link.server->receive(b), ChannelError);
}

TEST(TcpChannel, ConnectRefused) {
  uint16_t port = 0;
  {
    TcpListener gone(kLoopback);
    port = gone.port();
  }
  const std::string where = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(error_of<ChannelError>([&] {
              (void)TcpChannel::connect({"127.0.0.1", port});
            }),
            "cannot connect to " + where + ": Connection refused");
}

TEST(TcpListener, BusyPortAndClose) {
  TcpListener first(kLoopback);
  const TcpAddress taken{"127.0.0.1", first.port()};
  EXPECT_EQ(error_of<ChannelError>([&] { TcpListener second(taken); }),
            "cannot listen on " + taken.to_string() + ": Address already in use");
  std::thread closer([&] {
    std::this_thread::sleep_for(milliseconds{50});
    first.close();
  });
  EXPECT_EQ(error_of<ChannelError>([&] { (void)first.accept(); }),
            "stopped waiting for a migration on " + taken.to_string());
  closer.join();
  TcpListener waiting(kLoopback);
  EXPECT_EQ(error_of<ChannelTimeout>([&] { (void)waiting.accept(kDefaultIoTimeout, milliseconds{150}); }),
            "no migration arrived on 127.0.0.1:" + std::to_string(waiting.port()) + " within 150 ms");
}

// Migrates over a TCP connection on 127.0.0.1.
Outcome migrate_over_tcp(FakeSourceVm& from, FakeDestinationVm& to, const SourceOptions& options = {}) {
  TcpListener listener(*parse_tcp_address("tcp:127.0.0.1:0", true));
  Outcome out;
  std::thread destination([&] {
    auto channel = listener.accept();
    out.destination = MigrationDestination(to, *channel).run();
  });
  auto channel = TcpChannel::connect({"127.0.0.1", listener.port()});
  out.source = MigrationSource(from, *channel, options).run();
  destination.join();
  return out;
}

TEST(TcpMigration, EndToEndOnLoopback) {
  FakeSourceVm from(small_layout(1024));
  FakeDestinationVm to(small_layout(1024));
  busy_guest(from);
  for (uint64_t i = 100; i < 900; i += 3) write_page(from.guest_memory(), i, static_cast<uint8_t>(i));
  SourceOptions options;
  options.max_rounds = 3;
  options.downtime = milliseconds{0};
  const auto [result, incoming] = migrate_over_tcp(from, to, options);
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_TRUE(incoming.committed) << incoming.error;
  EXPECT_EQ(result.rounds, 3u);
  EXPECT_EQ(contents(to.guest_memory()), from.memory_at_pause);
  ASSERT_TRUE(to.taken);
  golden_machine::expect_golden(*to.taken);
}

TEST(TcpMigration, ConfigMismatchOnLoopback) {
  FakeSourceVm from;
  FakeDestinationVm to;
  VmConfig other = from.config_value();
  other.vcpus = 4;
  to.set_config(other);
  const auto [result, incoming] = migrate_over_tcp(from, to);
  EXPECT_EQ(result.error, "destination refused: configuration mismatch: vCPUs: source 1, destination 4");
  EXPECT_EQ(from.starts, 0);
  EXPECT_FALSE(incoming.committed);
}

TEST(TcpMigration, DestinationRejectMidStreamIsReported) {
  // The destination refuses while the source is still streaming pages: the
  // source reads the Reject rather than losing it to a reset.
  FakeSourceVm from(small_layout(2048));
  for (uint64_t i = 0; i < 2048; ++i) write_page(from.guest_memory(), i, static_cast<uint8_t>(i | 1));
  FakeDestinationVm to(small_layout(1024));  // smaller RAM ...
  to.set_config(from.config_value());        // ... though it claims the same
  const auto [result, incoming] = migrate_over_tcp(from, to);
  EXPECT_EQ(result.outcome, SourceOutcome::failed);
  EXPECT_TRUE(result.error.starts_with("destination refused: Pages message: guest memory stream: page"))
      << result.error;
  EXPECT_TRUE(from.running());
  EXPECT_FALSE(incoming.committed);
}

}  // namespace
}  // namespace wren::migrate::live
