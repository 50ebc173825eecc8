// NetDevice's transmit path: the guest's transmit queues to the TAP.
#include <sys/uio.h>

#include <cerrno>
#include <climits>

#include "virtio/net/mac_lock.h"
#include "virtio/net/net_device.h"
#include "virtio/net/net_header.h"

namespace wren {

namespace {

constexpr uint64_t kTxBudget = 256;  // chains per turn before yielding to the loop

}  // namespace

void NetDevice::process_tx(uint16_t pair) {
  Queue* q = queue(static_cast<uint16_t>(2 * pair + 1));
  if (!q || !q->ready() || pair >= taps_.size()) return;
  if (taps_[pair].write_armed) return;  // waiting for the backend to drain
  const uint16_t index = static_cast<uint16_t>(2 * pair + 1);
  drain_queue(*q, kTxBudget, &NetDevice::process_tx, pair, [&](const DescriptorChain& c) {
    if (send_chain(pair, c) == Send::WouldBlock) {
      q->undo_pop();
      arm_write(pair);
      return false;
    }
    if (!q->add_used(*memory_, c.head(), 0)) ++counters_.tx_errors;
    mark_used(index);
    return true;
  });
}

NetDevice::Send NetDevice::send_chain(uint16_t pair, const DescriptorChain& chain) {
  // The guest sizes the chain: refuse before anything (the bounce buffer)
  // is sized from it.
  if (chain.readable_len() > header_size_ + kMaxTxFrameBytes) {
    ++counters_.tx_dropped_too_big;
    return Send::Dropped;
  }
  if (chain.readable_len() < header_size_) {
    ++counters_.tx_dropped_header;
    return Send::Dropped;
  }
  std::array<uint8_t, kNetHeaderHashSize> header{};
  const auto header_bytes = std::span(header).first(header_size_);
  if (chain.read_at(*memory_, 0, header_bytes) != header_size_) {
    ++counters_.tx_errors;
    return Send::Dropped;
  }
  const size_t packet_len = chain.readable_len() - header_size_;
  const auto check = check_tx_header(decode_net_header(header_bytes), features_, packet_len);
  if (!check.ok()) {
    ++counters_.tx_dropped_header;
    return Send::Dropped;
  }
  encode_net_header(check.header, header_bytes);  // the checked copy, never the guest's bytes
  if (options_.mac_lock && !sent_from_own_mac(chain)) {
    ++counters_.tx_dropped_spoofed;
    return Send::Dropped;
  }

  tx_slices_.clear();  // capacity kept: no allocation per frame
  if (!chain.append_readable_slices(*memory_, header_size_, tx_slices_)) {
    ++counters_.tx_errors;
    return Send::Dropped;
  }
  tx_iov_.clear();
  tx_iov_.push_back({header.data(), header_size_});
  for (auto& s : tx_slices_) tx_iov_.push_back({s.data(), s.size()});
  std::vector<uint8_t> bounce;
  if (tx_iov_.size() > IOV_MAX) {  // rare: flatten very fragmented chains
    bounce.reserve(chain.readable_len());
    for (const auto& v : tx_iov_)
      bounce.insert(bounce.end(), static_cast<uint8_t*>(v.iov_base), static_cast<uint8_t*>(v.iov_base) + v.iov_len);
    tx_iov_.assign(1, {bounce.data(), bounce.size()});
  }
  const ssize_t n = ::writev(taps_[pair].descriptor.native_handle(), tx_iov_.data(), static_cast<int>(tx_iov_.size()));
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Send::WouldBlock;
    ++counters_.tx_errors;
    return Send::Dropped;
  }
  ++counters_.tx_packets;
  counters_.tx_bytes += packet_len;
  return Send::Sent;
}

bool NetDevice::sent_from_own_mac(const DescriptorChain& chain) const {
  std::array<uint8_t, kEthernetAddressesBytes> addresses{};
  const size_t got = chain.read_at(*memory_, header_size_, addresses);
  // control_.rx_filter.mac follows VIRTIO_NET_CTRL_MAC_ADDR_SET (mac-change=on only).
  return sent_from(std::span(addresses).first(got), control_.rx_filter.mac);
}

}  // namespace wren
