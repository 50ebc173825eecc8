// libFuzzer target for the virtio-net control-queue command logic
// (virtio/net/ctrl_command.h) and the receive filter it programs.
//
// Starting from the post-reset state for the fuzzed features, every command
// is applied with apply_ctrl_command and checked: a refused command must
// leave the state untouched and report no change; an accepted one must give
// a state that passes validate() and change flags that match the difference.
// Frames built from the input are classified by the current filter (and
// hashed / steered when RSS is on). Any crash, sanitizer report or broken
// invariant (__builtin_trap) is a finding.
//
// Input layout (little-endian):
//   u64 features   negotiated feature bits
//   then records until the input ends:
//     u8  class    0xff: not a command, classify `data` as a frame
//     u8  cmd
//     u16 length   clamped to the bytes left
//     u8  data[length]
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "virtio/net/ctrl_command.h"
#include "virtio/net/rss.h"
#include "virtio/net/rx_filter.h"

namespace {

using namespace wren;

constexpr uint8_t kFrameRecord = 0xff;
constexpr MacAddress kStationMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

NetControlLimits fuzz_limits() {
  NetControlLimits limits;
  limits.max_queue_pairs = 4;  // > 1 so VQ_PAIRS_SET and RSS tables have room to vary
  return limits;
}

void check_outcome(uint64_t features, const NetControlLimits& limits, uint8_t cls, const NetControlState& before,
                   const CtrlOutcome& out) {
  if (!out.ok()) {
    check(out.ack == VIRTIO_NET_ERR);
    check(out.error != CtrlError::None);
    check(!to_string(out.error).empty());
    check(out.state == before);
    check(!out.rx_filter_changed && !out.mac_changed && !out.queue_pairs_changed && !out.offloads_changed &&
          !out.rss_changed && !out.announce_acked);
    return;
  }
  check(out.ack == VIRTIO_NET_OK);
  check(out.error == CtrlError::None);
  check(!out.state.validate(features, limits).has_value());
  check(out.rx_filter_changed == (out.state.rx_filter != before.rx_filter));
  check(out.mac_changed == (out.state.rx_filter.mac != before.rx_filter.mac));
  check(out.queue_pairs_changed == (out.state.queue_pairs != before.queue_pairs));
  check(out.offloads_changed == (out.state.guest_offloads != before.guest_offloads));
  check(out.rss_changed == (out.state.rss != before.rss));
  check(out.announce_acked == (cls == VIRTIO_NET_CTRL_ANNOUNCE));
}

void classify_one(const NetControlState& s, const NetControlLimits& limits, std::span<const uint8_t> frame) {
  const RxFilter& f = s.rx_filter;
  const RxVerdict v = f.classify(frame);
  check(static_cast<size_t>(v) < kRxVerdictCount);
  check(f.accept(frame) == (v == RxVerdict::Accept));
  if (f.promisc) check(v == RxVerdict::Accept);
  if (!f.promisc && frame.size() < RxFilter::kEthHeaderLen) check(v == RxVerdict::DropRunt);
  if (v == RxVerdict::DropVlan) check(f.vlan_filtering);

  if (s.rss.enabled) {
    const auto hash = rss_hash(frame, s.rss.hash_types, s.rss.key);
    if (hash) check((hash->report != VIRTIO_NET_HASH_REPORT_NONE));
    if (s.rss.steering) check(rss_select_queue(s.rss, hash) < limits.max_queue_pairs);
  }
}

// The frame as sent, then readdressed to the station MAC and to the first
// entry of each MAC table so the accept paths are reachable.
void classify_frames(const NetControlState& s, const NetControlLimits& limits, std::span<const uint8_t> bytes) {
  classify_one(s, limits, bytes);
  if (bytes.size() < MacAddress::kSize) return;
  std::vector<uint8_t> frame(bytes.begin(), bytes.end());
  auto readdressed = [&](const MacAddress& dest) {
    std::copy(dest.bytes.begin(), dest.bytes.end(), frame.begin());
    classify_one(s, limits, frame);
  };
  readdressed(s.rx_filter.mac);
  readdressed(MacAddress::broadcast());
  if (!s.rx_filter.unicast.empty()) readdressed(s.rx_filter.unicast.front());
  if (!s.rx_filter.multicast.empty()) readdressed(s.rx_filter.multicast.front());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t features;
  std::memcpy(&features, data, 8);
  const NetControlLimits limits = fuzz_limits();

  NetControlState state = NetControlState::initial(kStationMac, features);
  check(!state.validate(features, limits).has_value());

  std::span<const uint8_t> in(data + 8, size - 8);
  while (in.size() >= 4) {
    const uint8_t cls = in[0];
    const uint8_t cmd = in[1];
    const size_t length = std::min<size_t>(static_cast<size_t>(in[2] | in[3] << 8), in.size() - 4);
    const std::span<const uint8_t> payload = in.subspan(4, length);
    in = in.subspan(4 + length);

    if (cls == kFrameRecord) {
      classify_frames(state, limits, payload);
      continue;
    }
    const CtrlOutcome out = apply_ctrl_command(features, limits, cls, cmd, payload, state);
    check_outcome(features, limits, cls, state, out);
    state = out.state;
  }
  classify_frames(state, limits, std::span(data + 8, size - 8));
  return 0;
}
