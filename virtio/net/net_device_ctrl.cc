// NetDevice's control queue: copy each command out of the guest, apply it
// (ctrl_command.h), move the host side along, ack.
#include "virtio/net/net_device.h"

namespace wren {

void NetDevice::process_ctrl(uint16_t index) {
  Queue* q = queue(index);
  if (!q || !q->ready()) return;
  drain_queue(*q, kCtrlCommandsPerTurn, &NetDevice::process_ctrl, index, [&](const DescriptorChain& c) {
    if (c.writable_len() < 1) {
      // Nowhere to put the ack: the driver broke the protocol.
      ++counters_.ctrl_malformed;
      if (!q->add_used(*memory_, c.head(), 0)) ++counters_.ctrl_malformed;
      mark_used(index);
      guest_error("control command without a status byte");
      return true;
    }
    uint8_t ack = VIRTIO_NET_ERR;
    if (c.readable_len() < 2 || c.readable_len() > kMaxCtrlCommandBytes) {
      ++counters_.ctrl_malformed;
      ++counters_.ctrl_err;
    } else if (auto bytes = c.read_all(*memory_); !bytes) {
      ++counters_.ctrl_malformed;
      ++counters_.ctrl_err;
    } else {
      ack = execute_ctrl((*bytes)[0], (*bytes)[1], std::span<const uint8_t>(*bytes).subspan(2));
    }
    const uint8_t status[1] = {ack};
    const size_t written = c.write_at(*memory_, 0, status);
    if (!q->add_used(*memory_, c.head(), static_cast<uint32_t>(written))) ++counters_.ctrl_malformed;
    mark_used(index);
    return true;
  });
}

uint8_t NetDevice::execute_ctrl(uint8_t cls, uint8_t cmd, std::span<const uint8_t> data) {
  auto out = apply_ctrl_command(features_, limits(), cls, cmd, data, control_);
  if (!out.ok()) {
    ++counters_.ctrl_err;
    return VIRTIO_NET_ERR;
  }
  switch (change_host_side_locked(control_, out.state)) {
    case HostSide::Outcome::Unchanged:
    case HostSide::Outcome::Applied: break;
    case HostSide::Outcome::RolledBack:
    case HostSide::Outcome::NeedsReset:
      // The host keeps (or lost) the old settings: the guest keeps its old state.
      ++counters_.ctrl_err;
      return VIRTIO_NET_ERR;
  }
  control_ = std::move(out.state);
  if (out.mac_changed || out.announce_acked) update_config_locked();
  if (out.rx_filter_changed) events_.rx_filter_changed = true;
  ++counters_.ctrl_ok;
  return VIRTIO_NET_OK;
}

}  // namespace wren
