// A NIC's two payloads (virtio-pci/function, virtio-net/device + rx-filter)
// go through a state section and come back with take_nic/restore_nic, the
// path the machine's restore and the live destination take. Issue 13: a
// stream whose payloads are each valid but disagree with each other is
// refused at import, before any device changes.
#include "migrate/nic_payloads.h"

#include <gtest/gtest.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>

#include <boost/asio/io_context.hpp>

#include "devices/pci/msi_vector_sink.h"
#include "migrate/stream.h"
#include "unit/virtio/fake_driver.h"
#include "unit/virtio/net/fake_backend.h"
#include "unit/virtio/pci/transport_harness.h"

namespace wren::migrate {
namespace {

constexpr uint64_t kFeatures = kVirtioFVersion1 | feature_bit(VIRTIO_NET_F_MAC) | feature_bit(VIRTIO_NET_F_STATUS) |
                               feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) |
                               feature_bit(VIRTIO_NET_F_GUEST_ANNOUNCE);

// A virtio-net NIC on its virtio-pci function, on a socketpair backend.
struct Nic {
  Nic() : memory({{0, 1 << 20}}) {
    NetDeviceOptions options;
    options.name = "net0";
    options.mac = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
    auto backend = std::make_unique<test::SocketPairBackend>(1);
    host = backend->shared();
    net = NetDevice::create(options, std::move(backend), io);
    function = VirtioPciDevice::create(net, VirtioPciMode::kModern, memory,
                                       std::make_shared<pci::DirectMsiVectorSink>(msi), nullptr);
  }
  void common_write(uint64_t offset, size_t width, uint64_t value) {
    uint8_t bytes[8] = {};
    store_le(std::span(bytes, width), value);
    function->bar_write(VirtioPciDevice::kModernBar, offset, std::span<const uint8_t>(bytes, width));
  }
  // What the guest driver does: negotiate, place rx, tx and ctrl, DRIVER_OK.
  void bring_up(uint64_t features) {
    common_write(VIRTIO_PCI_COMMON_STATUS, 1, 3);
    common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    common_write(VIRTIO_PCI_COMMON_GF, 4, features & 0xffffffff);
    common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    common_write(VIRTIO_PCI_COMMON_GF, 4, features >> 32);
    common_write(VIRTIO_PCI_COMMON_STATUS, 1, 0xb);
    for (uint16_t q = 0; q < 3; ++q) {
      drivers.push_back(std::make_unique<FakeDriver>(memory, 64, 0x10000 + q * 0x10000));
      const FakeDriver& d = *drivers.back();
      common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
      common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, d.size());
      common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 4, d.desc_addr());
      common_write(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, d.avail_addr());
      common_write(VIRTIO_PCI_COMMON_Q_USEDLO, 4, d.used_addr());
      common_write(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    }
    common_write(VIRTIO_PCI_COMMON_STATUS, 1, 0xf);
  }

  boost::asio::io_context io;
  GuestMemory memory;
  testing::FakeMsiSink msi;
  std::shared_ptr<test::SocketPairBackend::Shared> host;  // the TAP's knobs
  std::shared_ptr<NetDevice> net;
  std::shared_ptr<VirtioPciDevice> function;
  std::vector<std::unique_ptr<FakeDriver>> drivers;
};

// The payloads a snapshot of this NIC holds, through a state section.
Import imported(const VirtioPciDevice::State& function, const NetDevice::State& net) {
  std::vector<Payload> payloads{make_payload(kinds::kVirtioPci, "net0", function)};
  for (auto& p : kinds::net_device_payloads("net0", net)) payloads.push_back(std::move(p));
  auto decoded = decode_state_section(encode_state_section(payloads));
  EXPECT_TRUE(decoded.ok()) << decoded.error();
  auto import = Import::create(kinds::default_registry(), std::move(decoded).value());
  EXPECT_TRUE(import.ok()) << import.error();
  return std::move(import).value();
}

class NicPayloadsTest : public ::testing::Test {
 protected:
  NicPayloadsTest() {
    source.bring_up(kFeatures);
    function_state = source.function->save();
    net_state = source.net->save();
  }
  Nic source, destination;
  VirtioPciDevice::State function_state;
  NetDevice::State net_state;
};

TEST_F(NicPayloadsTest, MatchingPayloadsRestoreTheDeviceAsSaved) {
  ASSERT_TRUE(net_state.active);
  ASSERT_EQ(net_state.features, kFeatures);
  net_state.control.rx_filter.allmulti = true;  // state the device must adopt, not re-derive
  Import import = imported(function_state, net_state);
  auto taken = take_nic(import, "net0", *destination.function, *destination.net);
  ASSERT_TRUE(taken.ok()) << taken.error();
  EXPECT_TRUE(import.finish().ok());
  ASSERT_TRUE(restore_nic(*taken, "net0", *destination.function, *destination.net).ok());
  EXPECT_EQ(destination.net->save(), net_state);
  EXPECT_EQ(destination.function->status().device_status, 0xf);
}

TEST_F(NicPayloadsTest, FeatureWordsThatDisagreeAreRefusedBeforeAnyRestore) {
  // The crafted stream: the net device claims it runs without GUEST_ANNOUNCE
  // while the transport says the driver negotiated it.
  net_state.features &= ~feature_bit(VIRTIO_NET_F_GUEST_ANNOUNCE);
  // Each payload on its own passes its device's checks...
  EXPECT_EQ(destination.function->validate(function_state), std::nullopt);
  EXPECT_TRUE(std::holds_alternative<NetDevice::ValidState>(destination.net->validate(net_state)));
  // ...but together they are refused, naming both.
  Import import = imported(function_state, net_state);
  auto taken = take_nic(import, "net0", *destination.function, *destination.net);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error(),
            "virtio-net/device (net0) does not fit virtio-pci/function (net0): device features 0x100070020 "
            "differ from the 0x100270020 the driver negotiated");
  EXPECT_FALSE(destination.net->save().active);
  EXPECT_EQ(destination.function->status().device_status, 0);
}

TEST_F(NicPayloadsTest, InactiveDeviceUnderDriverOkIsRefused) {
  Import import = imported(function_state, NetDevice::State{});
  auto taken = take_nic(import, "net0", *destination.function, *destination.net);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.error().find("the transport has DRIVER_OK (and no NEEDS_RESET) but the device is inactive"),
            std::string::npos)
      << taken.error();
}

TEST_F(NicPayloadsTest, FilterRulesAreTheNetDevicesAndRefuseBeforeAnyRestore) {
  net_state.control.rx_filter.multicast.push_back(net_state.control.rx_filter.mac);
  Import import = imported(function_state, net_state);
  auto taken = take_nic(import, "net0", *destination.function, *destination.net);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error(), "virtio-net/device (net0): control state: rx filter: unicast address " +
                               net_state.control.rx_filter.mac.to_string() + " in the multicast table");
  EXPECT_FALSE(destination.net->save().active);
  EXPECT_EQ(destination.function->status().device_status, 0);
}

// Issue 13: when the destination's host refuses what the restored NIC needs
// (here its TAP filter), the import fails with the reason instead of running
// the guest on a device whose host side differs from its state. The live
// destination reports the failure to the source, which keeps the guest
// (LiveMigration.DestinationRejectingAPayloadKeepsTheSourceRunning).
TEST_F(NicPayloadsTest, HostSideTheDestinationRefusesFailsTheImport) {
  net_state.control.rx_filter.promisc = false;  // a filter the TAP must install
  net_state.control.rx_filter.allmulti = true;
  Import import = imported(function_state, net_state);
  auto taken = take_nic(import, "net0", *destination.function, *destination.net);
  ASSERT_TRUE(taken.ok()) << taken.error();
  destination.host->filter_results = {false, true};  // refused, rolled back
  const auto restored = restore_nic(*taken, "net0", *destination.function, *destination.net);
  ASSERT_FALSE(restored.ok()) << "before the fix: restored, and the activation only logged the refusal";
  EXPECT_EQ(restored.error(),
            "virtio-net/device (net0): fake-tap refused the restored host side (filter, offloads or queues); "
            "rolled back");
  EXPECT_FALSE(destination.net->save().active);
  EXPECT_EQ(destination.function->status().device_status, 0) << "the function was not restored";
  EXPECT_EQ(destination.host->filters.back(), HostFilter{}) << "the TAP is back to the reset filter";
}

TEST_F(NicPayloadsTest, RestoreTakesOnlyItsOwnDevicesValidatedState) {
  Import import = imported(function_state, net_state);
  auto taken = take_nic(import, "net0", *destination.function, *destination.net);
  ASSERT_TRUE(taken.ok()) << taken.error();
  // source.net did not validate it: refused, nothing changes.
  EXPECT_EQ(source.net->restore(taken->net), "state validated by another device");
  EXPECT_EQ(source.net->save(), net_state);
}

TEST_F(NicPayloadsTest, EachPayloadIsStillCheckedByItsDevice) {
  function_state.transport.isr = 0x80;
  Import import = imported(function_state, net_state);
  auto taken = take_nic(import, "net0", *destination.function, *destination.net);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error(), "virtio-pci/function v2 (net0): ISR with unknown bits");
}

}  // namespace
}  // namespace wren::migrate
