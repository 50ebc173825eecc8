// The transitional device's legacy I/O BAR, as the Linux virtio_pci_legacy
// driver (or virtio_pci.force_legacy=1) uses it.
#include <gtest/gtest.h>
#include <linux/virtio_pci.h>

#include "unit/virtio/pci/transport_harness.h"
#include "virtio/queue_layout.h"

namespace wren::testing {
namespace {

using namespace virtio_pci;

class LegacyTransportTest : public ::testing::Test {
 protected:
  LegacyTransportTest() : h(VirtioPciMode::kTransitional) {}

  uint8_t status() { return static_cast<uint8_t>(h.legacy_read(VIRTIO_PCI_STATUS, 1)); }
  void set_status(uint8_t s) { h.legacy_write(VIRTIO_PCI_STATUS, 1, s); }
  void setup_queue(uint16_t index, uint32_t pfn) {
    h.legacy_write(VIRTIO_PCI_QUEUE_SEL, 2, index);
    h.legacy_write(VIRTIO_PCI_QUEUE_PFN, 4, pfn);
  }
  void bring_up(uint32_t features = NullDevice::kFeatureA) {
    set_status(kStatusAcknowledge);
    set_status(kStatusAcknowledge | kStatusDriver);
    h.legacy_write(VIRTIO_PCI_GUEST_FEATURES, 4, features);
    setup_queue(0, 0x10);
    setup_queue(1, 0x20);
    set_status(kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  }

  TransportHarness h;
};

TEST_F(LegacyTransportTest, TransitionalIdentity) {
  EXPECT_EQ(h.config_read(pci::kVendorId, 2), 0x1af4u);
  EXPECT_EQ(h.config_read(pci::kDeviceId, 2), 0x1005u);  // entropy source
  EXPECT_EQ(h.config_read(pci::kRevisionId, 1), 0u);
  EXPECT_EQ(h.config_read(pci::kSubsystemId, 2), 4u);  // legacy drivers match the type here
  const auto bar0 = h.pci->bar_spec(VirtioPciDevice::kLegacyBar);
  ASSERT_TRUE(bar0);
  EXPECT_TRUE(bar0->is_io());
  EXPECT_GE(bar0->size, 24u + 8u);
  // A transitional device offers the modern interface too.
  EXPECT_TRUE(h.find_cap(pci::kCapIdVendor, kCapCommonCfg));
}

TEST(LegacyTransport, TypeWithoutTransitionalIdIsRejected) {
  class Gpu : public NullDevice {
   public:
    uint32_t device_type() const override { return 16; }
  };
  GuestMemory mem({{0, 1 << 20}});
  FakeMsiSink msi;
  auto sink = std::make_shared<pci::DirectMsiVectorSink>(msi);
  EXPECT_THROW(VirtioPciDevice::create(std::make_shared<Gpu>(), VirtioPciMode::kTransitional, mem, sink, nullptr),
               std::invalid_argument);
  EXPECT_NO_THROW(VirtioPciDevice::create(std::make_shared<Gpu>(), VirtioPciMode::kModern, mem, sink, nullptr));
}

TEST_F(LegacyTransportTest, FeaturesAre32BitAndMasked) {
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_HOST_FEATURES, 4), NullDevice::kOffered & 0xffffffff);
  h.legacy_write(VIRTIO_PCI_GUEST_FEATURES, 4, 0xffffffff);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_GUEST_FEATURES, 4), NullDevice::kOffered & 0xffffffff);
}

TEST_F(LegacyTransportTest, PfnPlacesTheRingLegacyStyle) {
  setup_queue(0, 0x10);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_NUM, 2), 16u);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_PFN, 4), 0x10u);
  setup_queue(1, 0x20);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_NUM, 2), 8u);
  set_status(kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  ASSERT_EQ(h.device->activations, 1);
  const Queue& q0 = h.device->queues[0];
  EXPECT_TRUE(q0.ready());
  EXPECT_EQ(q0.size(), 16u);
  EXPECT_EQ(q0.desc_addr(), 0x10000u);
  EXPECT_EQ(q0.avail_addr(), 0x10000u + 16 * 16);
  EXPECT_EQ(q0.used_addr(), 0x11000u);  // avail end (0x10126) rounded up to 4096
  const auto expected = split_ring::legacy_ring_addresses(0x20000, 8);
  EXPECT_EQ(h.device->queues[1].used_addr(), expected.used);
  // Also visible through the modern registers.
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x10000u);
}

TEST_F(LegacyTransportTest, PfnZeroDisablesAndBadPfnIsRefused) {
  setup_queue(0, 0x10);
  setup_queue(0, 0);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_PFN, 4), 0u);
  setup_queue(0, 0xfffff);  // 4 GiB - 4 KiB: outside our 1 MiB of RAM
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_PFN, 4), 0u);
  setup_queue(0, 0xffffffff);  // largest PFN: no overflow, just refused
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_PFN, 4), 0u);
  setup_queue(5, 0x10);  // no such queue
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_NUM, 2), 0u);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_PFN, 4), 0u);
}

TEST_F(LegacyTransportTest, DriverOkActivatesInLegacyMode) {
  bring_up(NullDevice::kFeatureA | NullDevice::kFeatureB);
  EXPECT_EQ(h.device->activations, 1);
  EXPECT_TRUE(h.device->legacy);
  EXPECT_EQ(h.device->features, NullDevice::kFeatureA | NullDevice::kFeatureB);
  EXPECT_EQ(status(), kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  // PFN writes after DRIVER_OK are ignored.
  setup_queue(0, 0x30);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_PFN, 4), 0x10u);
  // FEATURES_OK cannot appear after DRIVER_OK (e.g. through the modern registers).
  h.common_write(VIRTIO_PCI_COMMON_STATUS, 1, status() | kStatusFeaturesOk);
  EXPECT_FALSE(status() & kStatusFeaturesOk);
  // Writing FEATURES_OK through the legacy register means nothing.
  set_status(0);
  set_status(kStatusFeaturesOk);
  EXPECT_EQ(status(), 0);
}

TEST_F(LegacyTransportTest, DeviceStateFitsTheLegacyActivation) {
  // A legacy driver never sets FEATURES_OK: the device runs with the low 32
  // offered bits the driver wrote, whatever else the register holds.
  bring_up(NullDevice::kFeatureA | NullDevice::kFeatureB);
  auto state = h.pci->save();
  EXPECT_EQ(h.pci->check_device_fits(state, true, NullDevice::kFeatureA | NullDevice::kFeatureB), std::nullopt);
  state.transport.driver_features |= kVirtioFVersion1;  // above bit 31: not a legacy feature
  EXPECT_EQ(h.pci->check_device_fits(state, true, NullDevice::kFeatureA | NullDevice::kFeatureB), std::nullopt);
  EXPECT_NE(h.pci->check_device_fits(state, true, NullDevice::kFeatureA), std::nullopt);
}

TEST_F(LegacyTransportTest, NotifyRegisterKicksByValue) {
  h.legacy_write(VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);  // before DRIVER_OK: dropped
  bring_up();
  h.legacy_write(VIRTIO_PCI_QUEUE_NOTIFY, 2, 1);
  h.legacy_write(VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);
  h.legacy_write(VIRTIO_PCI_QUEUE_NOTIFY, 2, 9);  // no such queue
  h.legacy_write(VIRTIO_PCI_QUEUE_NOTIFY, 4, 0);  // wrong width
  h.legacy_write(VIRTIO_PCI_QUEUE_NOTIFY, 2, 0xffff);
  EXPECT_EQ(h.device->kicks, (std::vector<uint16_t>{1, 0}));
}

TEST_F(LegacyTransportTest, IsrReadToClear) {
  bring_up();
  h.device->signal_used(1);
  h.device->signal_config_changed();
  EXPECT_TRUE(h.intx->level);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_ISR, 1), uint64_t{kIsrQueue | kIsrConfig});
  EXPECT_FALSE(h.intx->level);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_ISR, 1), 0u);
}

TEST_F(LegacyTransportTest, ConfigOffsetShiftsWithMsix) {
  // Without MSI-X: device config at 20, no vector registers.
  EXPECT_EQ(h.legacy_read(20, 4), 0x04030201u);
  EXPECT_EQ(h.legacy_read(20 + 7, 1), 8u);
  h.legacy_write(22, 2, 0xbeef);  // device config bytes 2..3
  EXPECT_EQ(h.device->config[2], 0xef);
  h.device->config[2] = 3;
  h.device->config[3] = 4;

  h.enable_msix();
  EXPECT_EQ(h.legacy_read(VIRTIO_MSI_CONFIG_VECTOR, 2), kNoVector);
  EXPECT_EQ(h.legacy_read(24, 4), 0x04030201u);
  h.legacy_write(VIRTIO_MSI_CONFIG_VECTOR, 2, 0);
  EXPECT_EQ(h.legacy_read(VIRTIO_MSI_CONFIG_VECTOR, 2), 0u);
  h.legacy_write(VIRTIO_PCI_QUEUE_SEL, 2, 1);
  h.legacy_write(VIRTIO_MSI_QUEUE_VECTOR, 2, 2);
  EXPECT_EQ(h.legacy_read(VIRTIO_MSI_QUEUE_VECTOR, 2), 2u);
  h.legacy_write(VIRTIO_MSI_QUEUE_VECTOR, 2, 3);  // only 3 vectors: 0..2
  EXPECT_EQ(h.legacy_read(VIRTIO_MSI_QUEUE_VECTOR, 2), kNoVector);
  // Past the device config: zero, and no out-of-range device access.
  EXPECT_EQ(h.legacy_read(24 + 8, 4), 0u);
  h.legacy_write(24 + 6, 4, 0xffffffff);
  EXPECT_EQ(h.device->config[7], 0xff);
}

TEST_F(LegacyTransportTest, MsixDeliveryOnLegacyInterface) {
  h.enable_msix();
  h.program_vector(2);
  set_status(kStatusAcknowledge | kStatusDriver);
  setup_queue(1, 0x20);
  h.legacy_write(VIRTIO_MSI_QUEUE_VECTOR, 2, 2);
  set_status(kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  h.device->signal_used(1);
  ASSERT_EQ(h.msi.sent.size(), 1u);
  EXPECT_EQ(h.msi.sent[0].second, 0x102u);
}

TEST_F(LegacyTransportTest, EveryOffsetEveryWidthIsSafe) {
  const uint64_t size = h.pci->bar_spec(VirtioPciDevice::kLegacyBar)->size;
  for (int msix = 0; msix < 2; ++msix) {
    if (msix) h.enable_msix();
    for (uint64_t off = 0; off < size + 8; ++off)
      for (size_t width : {1, 2, 4, 8}) (void)h.legacy_read(off, width);
    for (uint64_t off = 0; off < size + 8; ++off)
      for (size_t width : {1, 2, 4, 8})
        if (off != VIRTIO_PCI_STATUS) h.legacy_write(off, width, ~uint64_t{0});
  }
  // Registers answer only to their natural width.
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_HOST_FEATURES, 2), 0u);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_QUEUE_NUM, 4), 0u);
}

TEST(LegacyTransport, ModernDeviceHasNoLegacyBar) {
  TransportHarness h(VirtioPciMode::kModern);
  EXPECT_EQ(h.legacy_read(VIRTIO_PCI_HOST_FEATURES, 4), 0u);
  h.legacy_write(VIRTIO_PCI_STATUS, 1, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_STATUS, 1), 0u);
  EXPECT_EQ(h.device->activations, 0);
}

}  // namespace
}  // namespace wren::testing
