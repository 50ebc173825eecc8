// The live migration wire format: frames (checksum, type, size cap),
// message payloads, the VM configuration and its comparison, and the
// bandwidth estimate that decides when to stop the guest.
#include <gtest/gtest.h>

#include "live_fakes.h"
#include "migrate/live/bandwidth.h"
#include "migrate/live/frame.h"
#include "migrate/live/memory_channel.h"
#include "migrate/live/messages.h"
#include "migrate/live/vm_config.h"

namespace wren::migrate::live {
namespace {

using std::chrono::milliseconds;
using testing::error_of;

std::vector<uint8_t> frame_bytes(MessageType type, std::vector<uint8_t> payload) {
  MemoryChannelOptions options;
  options.capacity = 1 << 22;
  auto pipe = make_memory_channel_pair(options);
  const size_t size = send_frame(*pipe.first, type, payload);
  std::vector<uint8_t> out(size);
  pipe.second->receive(out);
  return out;
}

// Feeds raw bytes to receive_frame; the writer then hangs up.
Frame parse(const std::vector<uint8_t>& bytes) {
  MemoryChannelOptions options;
  options.capacity = bytes.size() + 1;
  auto pipe = make_memory_channel_pair(options);
  pipe.first->send(bytes);
  pipe.first->close();
  return receive_frame(*pipe.second);
}

TEST(LiveFrame, RoundTrip) {
  const std::vector<uint8_t> payload{1, 2, 3, 4, 5};
  const auto bytes = frame_bytes(MessageType::state, payload);
  EXPECT_EQ(bytes.size(), kFrameHeaderBytes + payload.size() + kFrameTrailerBytes);
  EXPECT_EQ(bytes[0], static_cast<uint8_t>(MessageType::state));
  EXPECT_EQ(bytes[1], 5);  // little-endian length
  const Frame f = parse(bytes);
  EXPECT_EQ(f.type, MessageType::state);
  EXPECT_EQ(f.payload, payload);
}

TEST(LiveFrame, EveryFlippedByteIsCaught) {
  const auto good = frame_bytes(MessageType::reject, encode_reason("no"));
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      auto bad = good;
      bad[i] ^= flip;
      // Refused outright, or (a length that grew) waiting for bytes that
      // never come: never a frame.
      EXPECT_THROW(parse(bad), std::runtime_error) << "byte " << i << " ^ " << int(flip);
    }
  }
}

TEST(LiveFrame, BadChecksum) {
  auto bytes = frame_bytes(MessageType::hello, encode_hello(kSupportedVersions));
  bytes[kFrameHeaderBytes + 2] ^= 1;
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)parse(bytes); }), "Hello frame: checksum mismatch");
}

TEST(LiveFrame, UnknownType) {
  for (uint8_t type : {0, 14, 0x63, 0xff}) {
    auto bytes = frame_bytes(MessageType::commit, {});
    bytes[0] = type;
    EXPECT_TRUE(error_of<ProtocolError>([&] { (void)parse(bytes); }).starts_with("unknown message type 0x"));
  }
}

TEST(LiveFrame, OversizeIsRefusedBeforeReadingIt) {
  // Only the header arrives (then the writer hangs up): the cap is checked
  // before the payload is awaited or allocated.
  std::vector<uint8_t> header{static_cast<uint8_t>(MessageType::pages), 0x01, 0x00, 0x20, 0x00};  // 2 MiB + 1
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)parse(header); }),
            "Pages frame of 2097153 bytes exceeds the cap of 2097152");
  header[4] = 0xff;
  EXPECT_TRUE(error_of<ProtocolError>([&] { (void)parse(header); }).find("exceeds the cap") != std::string::npos);
}

TEST(LiveFrame, TruncatedIsAChannelError) {
  auto bytes = frame_bytes(MessageType::state, {1, 2, 3});
  bytes.pop_back();
  EXPECT_EQ(error_of<ChannelError>([&] { (void)parse(bytes); }), "connection closed by the peer");
}

TEST(LiveFrame, WriterCannotExceedTheCap) {
  FrameWriter frame(MessageType::state);
  std::vector<uint8_t> big(kMaxFramePayload);
  frame.write(big);
  EXPECT_THROW(frame.write(std::vector<uint8_t>(1)), std::length_error);
}

TEST(LiveMessages, Hello) {
  EXPECT_EQ(decode_hello(encode_hello(std::vector<uint32_t>{2, 1})), (std::vector<uint32_t>{2, 1}));
  auto bad_magic = encode_hello(std::vector<uint32_t>{1});
  bad_magic[0] = 'X';
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)decode_hello(bad_magic); }),
            "Hello message: bad magic (not a Wren migration)");
  auto none = encode_hello(std::vector<uint32_t>{1});
  none[8] = 0;
  none.resize(9);
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)decode_hello(none); }), "Hello message: offers 0 versions");
  auto extra = encode_hello(std::vector<uint32_t>{1});
  extra.push_back(0);
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)decode_hello(extra); }), "Hello message: 1 bytes left over");
  auto short_ = encode_hello(std::vector<uint32_t>{1});
  short_.pop_back();
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)decode_hello(short_); }), "Hello message: truncated");
}

TEST(LiveMessages, ChooseVersion) {
  EXPECT_EQ(choose_version(std::vector<uint32_t>{1, 2}, kSupportedVersions), 2u);
  EXPECT_EQ(choose_version(std::vector<uint32_t>{1, 3}, kSupportedVersions), 1u);
  EXPECT_EQ(choose_version(std::vector<uint32_t>{3, 4}, kSupportedVersions), std::nullopt);
  EXPECT_EQ(version_list(kSupportedVersions), "2, 1");
}

TEST(LiveMessages, ReasonIsCappedAndPrintable) {
  EXPECT_EQ(decode_reason(MessageType::reject, encode_reason("bad\n\x01queue")), "bad??queue");
  EXPECT_EQ(decode_reason(MessageType::abort, encode_reason(std::string(5000, 'x'))).size(), kMaxReasonBytes);
  std::vector<uint8_t> lying{0xff, 0xff, 'a'};
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)decode_reason(MessageType::reject, lying); }),
            "Reject message: reason of 65535 bytes");
}

TEST(LiveMessages, SmallOnes) {
  EXPECT_EQ(decode_welcome(encode_welcome(7)), 7u);
  const RoundEnd end = decode_round_end(encode_round_end({3, 12345}));
  EXPECT_EQ(end.round, 3u);
  EXPECT_EQ(end.pages, 12345u);
  EXPECT_EQ(decode_state_end(encode_state_end(99)), 99u);
  EXPECT_NO_THROW(expect_empty(MessageType::ready, {}));
  EXPECT_EQ(error_of<ProtocolError>([] { expect_empty(MessageType::ready, std::vector<uint8_t>{1}); }),
            "Ready message: expected no payload, got 1 bytes");
}

VmConfig config() {
  VmConfig c;
  c.memory_bytes = 512ull << 20;
  c.vcpus = 2;
  c.cpu_model = "baseline";
  c.devices.push_back({"virtio-net", "net0", {{"features", "0x1"}, {"queues", "2"}, {"transport", "modern"}}});
  c.devices.push_back({"virtio-net", "net1", {{"queues", "1"}}});
  return c;
}

TEST(LiveVmConfig, RoundTrip) {
  EXPECT_EQ(decode_vm_config(encode_vm_config(config())), config());
  EXPECT_EQ(decode_vm_config(encode_vm_config(VmConfig{})), VmConfig{});
}

TEST(LiveVmConfig, EveryTruncationIsRefused) {
  const auto bytes = encode_vm_config(config());
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW((void)decode_vm_config(std::span(bytes).first(n)), ProtocolError) << n;
}

TEST(LiveVmConfig, NonPrintableAndDuplicatesAreRefused) {
  VmConfig c = config();
  c.cpu_model = "ho\x01st";
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)decode_vm_config(encode_vm_config(c)); }),
            "Config message: CPU model is not printable ASCII");
  c = config();
  c.devices[1].name = "net0";
  EXPECT_EQ(error_of<ProtocolError>([&] { (void)decode_vm_config(encode_vm_config(c)); }),
            "Config message: device net0 appears twice");
}

TEST(LiveVmConfig, FirstDifference) {
  EXPECT_EQ(first_difference(config(), config()), std::nullopt);
  auto differ = [](const std::function<void(VmConfig&)>& change) {
    VmConfig d = config();
    change(d);
    return first_difference(config(), d).value_or("(same)");
  };
  EXPECT_EQ(differ([](VmConfig& c) { c.memory_bytes = 1ull << 30; }), "memory: source 512 MiB, destination 1024 MiB");
  EXPECT_EQ(differ([](VmConfig& c) { c.memory_bytes += 4096; }), "memory: source 512 MiB, destination 524292 KiB");
  EXPECT_EQ(differ([](VmConfig& c) { c.devices[0].kind = "virtio-blk"; }),
            "device net0 kind: source virtio-net, destination virtio-blk");
  EXPECT_EQ(differ([](VmConfig& c) { c.devices[0].params["features"] = "0x3"; }),
            "device net0 (virtio-net) features: source '0x1', destination '0x3'");
  EXPECT_EQ(differ([](VmConfig& c) { c.devices[0].params["aaa"] = "x"; }),
            "device net0 (virtio-net) aaa: source does not have it, destination 'x'");
  EXPECT_EQ(differ([](VmConfig& c) { std::swap(c.devices[0], c.devices[1]); }),
            "device order: source net0, net1, destination net1, net0");
  // Memory is reported before devices: the first difference, in a fixed order.
  EXPECT_EQ(differ([](VmConfig& c) {
              c.devices.clear();
              c.vcpus = 1;
            }),
            "vCPUs: source 2, destination 1");
}

TEST(LiveBandwidth, MergesShortRoundsAndKeepsTheLatestSample) {
  BandwidthMeter meter;
  EXPECT_EQ(meter.bytes_per_second(), 0);
  meter.add(512 << 10, milliseconds{10});  // too small alone: a provisional rate
  EXPECT_NEAR(meter.bytes_per_second(), 50.0 * (1 << 20), 1);
  meter.add(512 << 10, milliseconds{90});  // 1 MiB in 100 ms
  EXPECT_NEAR(meter.bytes_per_second(), 10.0 * (1 << 20), 1);
  meter.add(4 << 20, milliseconds{1000});
  EXPECT_NEAR(meter.bytes_per_second(), 4.0 * (1 << 20), 1);
  meter.add(100, milliseconds{1000});  // a tiny round does not replace the sample
  EXPECT_NEAR(meter.bytes_per_second(), 4.0 * (1 << 20), 1);
}

TEST(LiveBandwidth, Estimate) {
  EXPECT_EQ(estimate_send_time(0, 0), milliseconds{0});
  EXPECT_EQ(estimate_send_time(1, 0), milliseconds::max());
  // 1000 pages of 4105 bytes at 4105000 bytes/s: one second.
  EXPECT_EQ(estimate_send_time(1000, 4105000), milliseconds{1000});
  EXPECT_EQ(estimate_send_time(1, 1e12), milliseconds{1});  // rounded up
}

}  // namespace
}  // namespace wren::migrate::live
