// The modern virtio-pci transport as the Linux virtio_pci_modern driver
// sees it.
#include <gtest/gtest.h>
#include <linux/virtio_pci.h>

#include <map>
#include <set>

#include "devices/pci/bus.h"
#include "devices/pci/msix.h"
#include "unit/virtio/fake_driver.h"
#include "unit/virtio/pci/transport_harness.h"
#include "virtio/pci/common_cfg.h"

namespace wren::testing {
namespace {

using namespace virtio_pci;
constexpr int kBar = VirtioPciDevice::kModernBar;

class ModernTransportTest : public ::testing::Test {
 protected:
  ModernTransportTest() : h(VirtioPciMode::kModern), q0(h.memory, 16, 0x10000), q1(h.memory, 8, 0x40000) {}

  uint8_t status() { return static_cast<uint8_t>(h.common_read(VIRTIO_PCI_COMMON_STATUS, 1)); }
  void set_status(uint8_t s) { h.common_write(VIRTIO_PCI_COMMON_STATUS, 1, s); }
  uint64_t device_features() {
    h.common_write(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    uint64_t f = h.common_read(VIRTIO_PCI_COMMON_DF, 4);
    h.common_write(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    return f | (h.common_read(VIRTIO_PCI_COMMON_DF, 4) << 32);
  }
  void write_driver_features(uint64_t f) {
    h.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    h.common_write(VIRTIO_PCI_COMMON_GF, 4, f & 0xffffffff);
    h.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    h.common_write(VIRTIO_PCI_COMMON_GF, 4, f >> 32);
  }
  // ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK.
  bool negotiate(uint64_t f) {
    set_status(kStatusAcknowledge);
    set_status(kStatusAcknowledge | kStatusDriver);
    write_driver_features(f);
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    return status() & kStatusFeaturesOk;
  }
  void setup_queue(uint16_t index, const FakeDriver& drv) {
    h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    h.common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, drv.size());
    h.common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 4, drv.desc_addr() & 0xffffffff);
    h.common_write(VIRTIO_PCI_COMMON_Q_DESCHI, 4, drv.desc_addr() >> 32);
    h.common_write(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, drv.avail_addr() & 0xffffffff);
    h.common_write(VIRTIO_PCI_COMMON_Q_AVAILHI, 4, drv.avail_addr() >> 32);
    h.common_write(VIRTIO_PCI_COMMON_Q_USEDLO, 4, drv.used_addr() & 0xffffffff);
    h.common_write(VIRTIO_PCI_COMMON_Q_USEDHI, 4, drv.used_addr() >> 32);
    h.common_write(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  }
  void bring_up(uint64_t f = kVirtioFVersion1 | NullDevice::kFeatureA) {
    const int before = h.device->activations;
    ASSERT_TRUE(negotiate(f));
    setup_queue(0, q0);
    setup_queue(1, q1);
    set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    ASSERT_EQ(h.device->activations, before + 1);
  }
  void notify(uint16_t queue) {
    h.bar_write(kBar, VirtioPciDevice::kNotifyOffset + queue * VirtioPciDevice::kNotifyOffMultiplier, 2, queue);
  }

  TransportHarness h;
  FakeDriver q0, q1;
};

TEST_F(ModernTransportTest, PciIdentity) {
  EXPECT_EQ(h.config_read(pci::kVendorId, 2), 0x1af4u);
  EXPECT_EQ(h.config_read(pci::kDeviceId, 2), 0x1040u + 4);
  EXPECT_EQ(h.config_read(pci::kRevisionId, 1), 1u);
  EXPECT_EQ(h.config_read(pci::kSubsystemVendorId, 2), 0x1af4u);
  EXPECT_GE(h.config_read(pci::kSubsystemId, 2), 0x40u);
  EXPECT_EQ(h.config_read(pci::kClassProgIf, 4) & 0xffffff, 0x00ff00u);
  EXPECT_EQ(h.config_read(pci::kInterruptPin, 1), 1u);
  EXPECT_FALSE(h.pci->bar_spec(VirtioPciDevice::kLegacyBar));
  ASSERT_TRUE(h.pci->bar_spec(kBar));
  EXPECT_TRUE(h.pci->bar_spec(kBar)->is_64bit());
  EXPECT_FALSE(h.pci->bar_spec(kBar)->prefetchable);
}

TEST_F(ModernTransportTest, VirtioCapabilities) {
  struct Expect {
    uint8_t type;
    uint32_t offset;
    uint32_t min_length;
  };
  const Expect expected[] = {
      {kCapCommonCfg, 0x0000, 56}, {kCapNotifyCfg, 0x3000, 2 * 4}, {kCapIsrCfg, 0x1000, 1}, {kCapDeviceCfg, 0x2000, 8}};
  for (const auto& e : expected) {
    const auto cap = h.find_cap(pci::kCapIdVendor, e.type);
    ASSERT_TRUE(cap) << int(e.type);
    EXPECT_EQ(*cap % 4, 0);
    EXPECT_EQ(h.config_read(*cap + 4, 1), uint32_t{kBar});
    EXPECT_EQ(h.config_read(*cap + 8, 4), e.offset);
    EXPECT_GE(h.config_read(*cap + 12, 4), e.min_length);
    EXPECT_LE(uint64_t{e.offset} + h.config_read(*cap + 12, 4), VirtioPciDevice::kModernBarSize);
  }
  const auto notify = h.find_cap(pci::kCapIdVendor, kCapNotifyCfg);
  EXPECT_EQ(h.config_read(*notify + 2, 1), 20u);  // cap_len includes the multiplier
  EXPECT_EQ(h.config_read(*notify + 16, 4), VirtioPciDevice::kNotifyOffMultiplier);
  const auto msix = h.find_cap(pci::kCapIdMsix);
  ASSERT_TRUE(msix);
  EXPECT_EQ(h.config_read(*msix + 2, 2) & 0x7ff, 2u);  // 3 vectors: config + 2 queues
  EXPECT_EQ(h.config_read(*msix + 4, 4) & 7, uint32_t{VirtioPciDevice::kMsixBar});
  EXPECT_TRUE(h.find_cap(pci::kCapIdVendor, kCapPciCfg));
}

TEST_F(ModernTransportTest, PowerOnCommonConfig) {
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_NUMQ, 2), 2u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_MSIX, 2), kNoVector);
  EXPECT_EQ(status(), 0);
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 8u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_NOFF, 2), 1u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);  // no such queue
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0u);
  EXPECT_EQ(device_features(), NullDevice::kOffered);
  h.common_write(VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_DF, 4), 0u);
}

// Every offset x width: natural-width field accesses have defined values,
// everything else reads zero; writes of anything never crash.
TEST_F(ModernTransportTest, EveryOffsetEveryWidth) {
  bring_up();
  std::map<std::pair<uint64_t, size_t>, bool> valid;
  for (uint64_t off : {0, 4, 8, 12}) valid[{off, 4}] = true;
  for (uint64_t off : {16, 18, 22, 24, 26, 28, 30, 56, 58}) valid[{off, 2}] = true;
  for (uint64_t off : {20, 21}) valid[{off, 1}] = true;
  for (uint64_t off : {32, 36, 40, 44, 48, 52}) valid[{off, 4}] = true;
  for (uint64_t off : {32, 40, 48}) valid[{off, 8}] = true;

  // A narrower read at a scalar field's start returns its low bytes.
  for (const auto& [access, unused] : std::map(valid)) {
    for (size_t narrower = 1; narrower < access.second && access.second < 8; narrower *= 2)
      valid[{access.first, narrower}] = true;
  }
  for (uint64_t off = 0; off < 0x1000 + 8; ++off) {
    for (size_t width : {1, 2, 4, 8}) {
      const uint64_t v = h.common_read(off, width);
      if (!valid.count({off, width})) {
        EXPECT_EQ(v, 0u) << "offset " << off << " width " << width;
      }
    }
  }
  // Spot-check the defined values.
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), q0.desc_addr());
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_AVAILLO, 4), q0.avail_addr());
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_USEDHI, 4), 0u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);

  // Writes of every width at every offset, with nasty values, before and after DRIVER_OK.
  for (int round = 0; round < 2; ++round) {
    for (uint64_t off = 0; off < 0x48; ++off)
      for (size_t width : {1, 2, 4, 8})
        for (uint64_t value : {uint64_t{0}, ~uint64_t{0}, uint64_t{0x8000}, uint64_t{1}})
          if (off != VIRTIO_PCI_COMMON_STATUS) h.common_write(off, width, value);
    set_status(0);
  }
  SUCCEED();
}

TEST_F(ModernTransportTest, NarrowReadAtAFieldStartReturnsItsLowBytes) {
  const uint64_t features = device_features();
  ASSERT_NE(features & 0xffff, 0u);
  h.common_write(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_DF, 2), features & 0xffff);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_DF, 1), features & 0xff);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_DF + 2, 2), 0u);  // not a field start
  h.common_write(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_DF, 2), (features >> 32) & 0xffff);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_NUMQ, 1), 2u);
}

TEST_F(ModernTransportTest, WrongWidthWritesAreIgnored) {
  ASSERT_TRUE(negotiate(kVirtioFVersion1));
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 4, 1);  // 4-byte write to a 2-byte field
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SELECT, 2), 0u);
  h.common_write(VIRTIO_PCI_COMMON_STATUS, 2, 0);  // 2-byte write at device_status: not a reset
  EXPECT_NE(status(), 0);
  h.common_write(VIRTIO_PCI_COMMON_Q_DESCLO + 2, 4, 0xffffffff);  // misaligned half
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0u);
}

TEST_F(ModernTransportTest, SixtyFourBitFieldsInHalvesOrWhole) {
  ASSERT_TRUE(negotiate(kVirtioFVersion1));
  h.common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x12345000);
  h.common_write(VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x1);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x112345000u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_DESCHI, 4), 1u);
  h.common_write(VIRTIO_PCI_COMMON_Q_USEDLO, 8, 0x2'0000'3000);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_USEDLO, 4), 0x3000u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_USEDHI, 4), 2u);
}

TEST_F(ModernTransportTest, FeatureNegotiationSucceeds) {
  const uint64_t wanted = kVirtioFVersion1 | kVirtioFRingEventIdx | NullDevice::kFeatureB;
  ASSERT_TRUE(negotiate(wanted));
  h.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_GF, 4), 1u);
  setup_queue(0, q0);
  set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(h.device->activations, 1);
  EXPECT_EQ(h.device->features, wanted);
  EXPECT_FALSE(h.device->legacy);
  ASSERT_EQ(h.device->queues.size(), 2u);
  EXPECT_TRUE(h.device->queues[0].ready());
  EXPECT_TRUE(h.device->queues[0].event_idx());
  EXPECT_FALSE(h.device->queues[1].ready());
  EXPECT_EQ(status(), kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
}

TEST_F(ModernTransportTest, FeaturesOkRefusedWithoutVersion1) {
  EXPECT_FALSE(negotiate(NullDevice::kFeatureA));
  set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(h.device->activations, 0);  // no DRIVER_OK without FEATURES_OK on a modern device
  EXPECT_FALSE(status() & kStatusDriverOk);
}

TEST_F(ModernTransportTest, FeaturesOkRefusedForUnofferedFeature) {
  EXPECT_FALSE(negotiate(kVirtioFVersion1 | (uint64_t{1} << 7)));
  EXPECT_FALSE(negotiate(kVirtioFVersion1 | kVirtioFAccessPlatform));
}

TEST_F(ModernTransportTest, FeaturesOkRefusedByDeviceRule) {
  h.device->refuse_feature_b = true;
  EXPECT_FALSE(negotiate(kVirtioFVersion1 | NullDevice::kFeatureB));
  set_status(0);
  EXPECT_TRUE(negotiate(kVirtioFVersion1 | NullDevice::kFeatureA));
}

TEST_F(ModernTransportTest, FeaturesFrozenAfterFeaturesOk) {
  ASSERT_TRUE(negotiate(kVirtioFVersion1));
  write_driver_features(kVirtioFVersion1 | NullDevice::kFeatureA);
  h.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_GF, 4), 0u);
}

TEST_F(ModernTransportTest, StatusBitsOnlyAccumulateAndNeedsResetIsDeviceOwned) {
  set_status(kStatusAcknowledge | kStatusNeedsReset | 0x30);
  EXPECT_EQ(status(), kStatusAcknowledge);
  set_status(kStatusDriver);  // a driver never clears bits; we keep them
  EXPECT_EQ(status(), kStatusAcknowledge | kStatusDriver);
  set_status(kStatusFailed);
  EXPECT_TRUE(status() & kStatusFailed);
}

TEST_F(ModernTransportTest, QueueSizeValidation) {
  ASSERT_TRUE(negotiate(kVirtioFVersion1));
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  h.common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 4u);
  h.common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, 6);  // not a power of two
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 4u);
  h.common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);  // above the max
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 4u);
  h.common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 4u);
}

TEST_F(ModernTransportTest, QueueRegistersFrozenAfterDriverOk) {
  bring_up();
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
  h.common_write(VIRTIO_PCI_COMMON_Q_SIZE, 2, 2);
  h.common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x80000);
  h.common_write(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 8u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), q1.desc_addr());
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1u);
  EXPECT_EQ(h.device->queues[1].desc_addr(), q1.desc_addr());
}

TEST_F(ModernTransportTest, QueueOutsideRamSetsNeedsReset) {
  ASSERT_TRUE(negotiate(kVirtioFVersion1));
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  h.common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x7fff'0000'0000);
  h.common_write(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
  EXPECT_TRUE(status() & kStatusNeedsReset);
  set_status(0);
  EXPECT_EQ(status(), 0);
}

TEST_F(ModernTransportTest, NotifyReachesTheRightQueue) {
  notify(0);  // before DRIVER_OK: dropped
  EXPECT_TRUE(h.device->kicks.empty());
  bring_up();
  notify(1);
  notify(0);
  h.bar_write(kBar, VirtioPciDevice::kNotifyOffset + 4, 4, 1);  // 32-bit write: still queue 1
  h.bar_write(kBar, VirtioPciDevice::kNotifyOffset + 2, 2, 0);  // between slots: ignored
  h.bar_write(kBar, VirtioPciDevice::kNotifyOffset + 8, 2, 2);  // no queue 2
  h.bar_write(kBar, VirtioPciDevice::kNotifyOffset + 0xffc, 2, 0);
  EXPECT_EQ(h.device->kicks, (std::vector<uint16_t>{1, 0, 1}));
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kNotifyOffset, 2), 0u);
}

TEST_F(ModernTransportTest, ResetClearsEverything) {
  bring_up(kVirtioFVersion1 | kVirtioFRingEventIdx);
  h.enable_msix();
  h.common_write(VIRTIO_PCI_COMMON_MSIX, 2, 0);
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
  h.common_write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
  set_status(0);
  EXPECT_EQ(h.device->resets, 1);
  EXPECT_TRUE(h.device->queues.empty());
  EXPECT_EQ(status(), 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SELECT, 2), 0u);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_MSIX, 2), kNoVector);
  h.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_GF, 4), 0u);
  for (uint16_t q = 0; q < 2; ++q) {
    h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
    EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), q == 0 ? 16u : 8u);
    EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0u);
    EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0u);
    EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_AVAILLO, 8), 0u);
    EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_USEDLO, 8), 0u);
    EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);
  }
  notify(0);
  EXPECT_TRUE(h.device->kicks.empty());
  h.device->signal_used(0);  // after reset: no interrupt
  EXPECT_FALSE(h.intx->level);
  // The device can be brought up again.
  bring_up();
}

TEST_F(ModernTransportTest, IsrReadClearsAndDeassertsIntx) {
  bring_up();
  h.device->signal_used(0);
  EXPECT_TRUE(h.intx->level);
  EXPECT_TRUE(h.config_read(pci::kStatus, 2) & pci::kStatusInterrupt);
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kIsrOffset, 1), kIsrQueue);
  EXPECT_FALSE(h.intx->level);
  EXPECT_FALSE(h.config_read(pci::kStatus, 2) & pci::kStatusInterrupt);
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kIsrOffset, 1), 0u);
  h.bar_write(kBar, VirtioPciDevice::kIsrOffset, 1, 0xff);  // ISR is read-only
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kIsrOffset, 4), 0u);
}

TEST_F(ModernTransportTest, IntxDisableMasksTheLineNotTheStatus) {
  bring_up();
  h.config_write(pci::kCommand, 2, pci::kCommandIntxDisable | pci::kCommandMemory);
  h.device->signal_used(1);
  EXPECT_FALSE(h.intx->level);
  EXPECT_TRUE(h.config_read(pci::kStatus, 2) & pci::kStatusInterrupt);
  h.config_write(pci::kCommand, 2, pci::kCommandMemory);
  EXPECT_TRUE(h.intx->level);
}

TEST_F(ModernTransportTest, MsixVectorsDeliverAndInvalidVectorsReadNoVector) {
  h.enable_msix();
  h.program_vector(0);
  h.program_vector(1);
  ASSERT_TRUE(negotiate(kVirtioFVersion1));
  h.common_write(VIRTIO_PCI_COMMON_MSIX, 2, 0);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_MSIX, 2), 0u);
  setup_queue(0, q0);
  h.common_write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), 1u);
  setup_queue(1, q1);
  h.common_write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 7);  // beyond the table
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), kNoVector);
  set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);

  h.device->signal_used(0);
  ASSERT_EQ(h.msi.sent.size(), 1u);
  EXPECT_EQ(h.msi.sent[0].second, 0x101u);
  h.device->signal_used(1);  // NO_VECTOR: nothing
  EXPECT_EQ(h.msi.sent.size(), 1u);
  h.device->signal_config_changed();
  ASSERT_EQ(h.msi.sent.size(), 2u);
  EXPECT_EQ(h.msi.sent[1].second, 0x100u);
  EXPECT_FALSE(h.intx->level);  // MSI-X replaces INTx and the ISR
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kIsrOffset, 1), 0u);
}

TEST_F(ModernTransportTest, StatusReportsWhatTheDriverSet) {
  auto before = h.pci->status();
  EXPECT_EQ(before.mode, VirtioPciMode::kModern);
  EXPECT_EQ(before.device_status, 0);
  EXPECT_EQ(before.driver_features, 0u);
  EXPECT_FALSE(before.msix_enabled);
  h.enable_msix();
  bring_up();
  const auto after = h.pci->status();
  EXPECT_EQ(after.device_status, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(after.driver_features, kVirtioFVersion1 | NullDevice::kFeatureA);
  EXPECT_TRUE(after.msix_enabled);
  const auto cap = h.find_cap(pci::kCapIdMsix);
  ASSERT_TRUE(cap);
  h.config_write(*cap + 2, 2, 0);  // the driver turns MSI-X off again
  EXPECT_FALSE(h.pci->status().msix_enabled);
}

TEST_F(ModernTransportTest, MaskedMsixVectorIsPendingUntilUnmasked) {
  h.enable_msix();
  h.program_vector(1);
  bring_up();
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  h.common_write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
  h.bar_write(VirtioPciDevice::kMsixBar, 16 + 12, 4, 1);  // mask vector 1
  h.device->signal_used(0);
  EXPECT_TRUE(h.msi.sent.empty());
  EXPECT_EQ(h.bar_read(VirtioPciDevice::kMsixBar, 0x800, 8), 0x2u);  // PBA bit 1
  h.bar_write(VirtioPciDevice::kMsixBar, 16 + 12, 4, 0);
  ASSERT_EQ(h.msi.sent.size(), 1u);
  EXPECT_EQ(h.bar_read(VirtioPciDevice::kMsixBar, 0x800, 8), 0u);
}

TEST_F(ModernTransportTest, ConfigGenerationAndConfigInterrupt) {
  const auto gen = h.common_read(VIRTIO_PCI_COMMON_CFGGENERATION, 1);
  h.device->signal_config_changed();  // before DRIVER_OK: no interrupt
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_CFGGENERATION, 1), (gen + 1) & 0xff);
  EXPECT_FALSE(h.intx->level);
  bring_up();
  h.device->signal_config_changed();
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_CFGGENERATION, 1), (gen + 2) & 0xff);
  EXPECT_TRUE(h.intx->level);
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kIsrOffset, 1), kIsrConfig);
}

TEST_F(ModernTransportTest, NeedsResetFlow) {
  h.device->set_needs_reset();  // not active: nothing to reset
  EXPECT_EQ(status(), 0);
  bring_up();
  h.device->set_needs_reset();
  EXPECT_TRUE(status() & kStatusNeedsReset);
  EXPECT_TRUE(h.intx->level);
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kIsrOffset, 1), kIsrConfig);
  set_status(status() & ~kStatusNeedsReset);  // the driver cannot clear it
  EXPECT_TRUE(status() & kStatusNeedsReset);
  set_status(0);
  EXPECT_EQ(status(), 0);
  bring_up();
  EXPECT_FALSE(status() & kStatusNeedsReset);
}

TEST_F(ModernTransportTest, ActivationFailureSetsNeedsReset) {
  h.device->activate_result = false;
  ASSERT_TRUE(negotiate(kVirtioFVersion1));
  set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_TRUE(status() & kStatusNeedsReset);
  notify(0);
  EXPECT_TRUE(h.device->kicks.empty());
}

TEST_F(ModernTransportTest, DeviceConfigWindowIsClipped) {
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kDeviceCfgOffset, 4), 0x04030201u);
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kDeviceCfgOffset + 6, 4), 0x0807u);  // past the end: zero
  EXPECT_EQ(h.bar_read(kBar, VirtioPciDevice::kDeviceCfgOffset + 100, 8), 0u);
  h.bar_write(kBar, VirtioPciDevice::kDeviceCfgOffset + 6, 4, 0xaabbccdd);
  EXPECT_EQ(h.device->config[6], 0xdd);
  EXPECT_EQ(h.device->config[7], 0xcc);
  h.bar_write(kBar, VirtioPciDevice::kDeviceCfgOffset + 0xff8, 8, ~uint64_t{0});
  EXPECT_EQ(h.device->config_writes, 1);
}

TEST_F(ModernTransportTest, PciCfgCapabilityWindow) {
  const auto cap = h.find_cap(pci::kCapIdVendor, kCapPciCfg);
  ASSERT_TRUE(cap);
  h.config_write(*cap + 4, 1, kBar);
  h.config_write(*cap + 8, 4, VIRTIO_PCI_COMMON_NUMQ);
  h.config_write(*cap + 12, 4, 2);
  EXPECT_EQ(h.config_read(*cap + 16, 2), 2u);  // num_queues through config space
  // Write device_status through the window.
  h.config_write(*cap + 8, 4, VIRTIO_PCI_COMMON_STATUS);
  h.config_write(*cap + 12, 4, 1);
  h.config_write(*cap + 16, 1, kStatusAcknowledge);
  EXPECT_EQ(status(), kStatusAcknowledge);
  // Bad lengths, misalignment, out-of-BAR offsets are ignored.
  for (uint32_t len : {0u, 3u, 8u, 0xffffffffu}) {
    h.config_write(*cap + 12, 4, len);
    h.config_write(*cap + 16, 4, 0);
    (void)h.config_read(*cap + 16, 4);
  }
  h.config_write(*cap + 12, 4, 2);
  h.config_write(*cap + 8, 4, VIRTIO_PCI_COMMON_STATUS);  // odd offset for a 2-byte access... 20 is even
  h.config_write(*cap + 8, 4, 0xffffffff);
  h.config_write(*cap + 16, 2, 0);
  h.config_write(*cap + 4, 1, 3);  // unimplemented BAR
  h.config_write(*cap + 8, 4, 0);
  h.config_write(*cap + 16, 2, 0);
  EXPECT_EQ(status(), kStatusAcknowledge);
}

TEST_F(ModernTransportTest, PciResetReturnsToPowerOn) {
  h.enable_msix();
  bring_up();
  h.pci->reset();
  EXPECT_EQ(status(), 0);
  EXPECT_GE(h.device->resets, 1);
  const auto msix = h.find_cap(pci::kCapIdMsix);
  EXPECT_EQ(h.config_read(*msix + 2, 2) & 0x8000, 0u);
}

TEST_F(ModernTransportTest, SaveRestoreReactivatesWithSameQueues) {
  h.enable_msix();
  h.program_vector(1);
  bring_up(kVirtioFVersion1 | kVirtioFRingEventIdx);
  h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
  h.common_write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
  const auto state = h.pci->save();

  TransportHarness other(VirtioPciMode::kModern);
  // Target RAM must hold the rings for restore to accept them.
  ASSERT_TRUE(other.pci->restore(state));
  EXPECT_EQ(other.device->activations, 1);
  EXPECT_EQ(other.device->features, kVirtioFVersion1 | kVirtioFRingEventIdx);
  ASSERT_EQ(other.device->queues.size(), 2u);
  EXPECT_EQ(other.device->queues[1].desc_addr(), q1.desc_addr());
  EXPECT_TRUE(other.device->queues[1].event_idx());
  other.device->signal_used(1);
  ASSERT_EQ(other.msi.sent.size(), 1u);
  EXPECT_EQ(other.msi.sent[0].second, 0x101u);

  auto bad = state;
  bad.transport.driver_features |= uint64_t{1} << 50;  // FEATURES_OK with an unoffered feature
  EXPECT_FALSE(other.pci->restore(bad));
  bad = state;
  bad.transport.status = 0x30;  // undefined status bits
  EXPECT_FALSE(other.pci->restore(bad));
  bad = state;
  bad.transport.queues.pop_back();
  EXPECT_FALSE(other.pci->restore(bad));
  bad = state;
  bad.pci_config.resize(10);
  EXPECT_FALSE(other.pci->restore(bad));
  bad = state;
  bad.transport.queues[0].desc_addr = 0x7fff'0000'0000;
  EXPECT_FALSE(other.pci->restore(bad));
  EXPECT_EQ(other.device->activations, 1);  // failed restores changed nothing
}

// Each refusal names its reason; restore() refuses the same states.
TEST_F(ModernTransportTest, ValidateNamesWhatDoesNotFitThisFunction) {
  h.enable_msix();
  bring_up();
  const auto state = h.pci->save();
  TransportHarness other(VirtioPciMode::kModern);
  EXPECT_EQ(other.pci->validate(state), std::nullopt);
  auto refused = [&](const VirtioPciDevice::State& bad, const std::string& reason) {
    EXPECT_EQ(other.pci->validate(bad), reason);
    EXPECT_FALSE(other.pci->restore(bad)) << reason;
  };
  auto bad = state;
  bad.transport.queues.push_back(bad.transport.queues[0]);
  bad.transport.queue_vectors.push_back(kNoVector);
  refused(bad, "transport has 3 queues, this device has 2");
  bad = state;
  bad.transport.queue_vectors.pop_back();
  refused(bad, "1 queue vectors for 2 queues");
  bad = state;
  bad.transport.status |= 0x10;
  refused(bad, "device status with unknown bits");
  bad = state;
  bad.transport.driver_features |= uint64_t{1} << 50;
  refused(bad, "accepted features not offered or refused by this device");
  bad = state;
  bad.transport.status &= static_cast<uint8_t>(~kStatusFeaturesOk);
  refused(bad, "DRIVER_OK without FEATURES_OK on a modern-only function");
  bad = state;
  bad.transport.isr = 0x4;
  refused(bad, "ISR with unknown bits");
  bad = state;
  bad.transport.queues[1].size = 16;  // queue 1's maximum is 8
  refused(bad, "queue 1: queue size not a power of two within the maximum");
  bad = state;
  bad.transport.queues[0].used_addr = 0x7fff'0000'0000;
  refused(bad, "queue 0: ring not in guest RAM");
  bad = state;
  bad.msix.table.resize(bad.msix.table.size() + pci::kMsixEntrySize);
  refused(bad, "MSI-X table of 4 vectors; this function has 3");
  EXPECT_EQ(other.device->activations, 0);
}

TEST_F(ModernTransportTest, DeviceStateMustFitTheTransportsActivation) {
  const uint64_t negotiated = kVirtioFVersion1 | NullDevice::kFeatureA;
  bring_up(negotiated);
  const auto active = h.pci->save();
  EXPECT_EQ(h.pci->check_device_fits(active, true, negotiated), std::nullopt);
  EXPECT_EQ(h.pci->check_device_fits(active, true, negotiated | NullDevice::kFeatureB),
            "device features 0x100000009 differ from the 0x100000001 the driver negotiated");
  EXPECT_EQ(h.pci->check_device_fits(active, false, 0),
            "the transport has DRIVER_OK (and no NEEDS_RESET) but the device is inactive");

  auto needs_reset = active;  // the device may or may not have stayed active
  needs_reset.transport.status |= kStatusNeedsReset;
  EXPECT_EQ(h.pci->check_device_fits(needs_reset, false, 0), std::nullopt);
  EXPECT_EQ(h.pci->check_device_fits(needs_reset, true, negotiated), std::nullopt);
  EXPECT_NE(h.pci->check_device_fits(needs_reset, true, kVirtioFVersion1), std::nullopt);

  auto negotiating = active;  // features acked, no DRIVER_OK: never activated
  negotiating.transport.status = kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk;
  EXPECT_EQ(h.pci->check_device_fits(negotiating, false, 0), std::nullopt);
  EXPECT_EQ(h.pci->check_device_fits(negotiating, true, negotiated),
            "the device is active but the transport has no DRIVER_OK");
}

// Records what the transport asks of the machine's notify wiring.
class RecordingWiring : public NotifyWiring {
 public:
  bool attach(uint64_t addr, uint32_t len, bool pio, std::function<void()> fn) override {
    EXPECT_EQ(len, 2u);
    EXPECT_FALSE(pio);
    attached[addr] = std::move(fn);
    return true;
  }
  void detach(uint64_t addr, uint32_t, bool) override { attached.erase(addr); }
  void kick(std::function<void()> fn) override {
    ++decoded_kicks;
    fn();
  }
  std::map<uint64_t, std::function<void()>> attached;
  int decoded_kicks = 0;
};

TEST(ModernTransportOnBus, BarsOnTheBusAndIoeventfdsFollowTheBar) {
  IoBus mmio, pio;
  pci::PciBus bus(mmio, pio);
  auto wiring = std::make_shared<RecordingWiring>();
  TransportHarness h(VirtioPciMode::kModern, wiring);
  const uint8_t slot = bus.add_device(h.pci);
  const auto bar4 = bus.bar_mapping(slot, kBar);
  ASSERT_TRUE(bar4);
  ASSERT_EQ(wiring->attached.size(), 2u);
  EXPECT_TRUE(wiring->attached.count(*bar4 + VirtioPciDevice::kNotifyOffset + 4));

  uint8_t b[2] = {};
  ASSERT_TRUE(mmio.read(*bar4 + VIRTIO_PCI_COMMON_NUMQ, b));
  EXPECT_EQ(load_le(b), 2u);

  // Move BAR4: the ioeventfds move with it.
  uint8_t addr[4];
  store_le(addr, 0xd0000000);
  bus.config_write(0, slot, 0, pci::bar_register(kBar), addr);
  store_le(addr, 0);
  bus.config_write(0, slot, 0, pci::bar_register(kBar) + 4, addr);
  EXPECT_EQ(bus.bar_mapping(slot, kBar), 0xd0000000u);
  EXPECT_TRUE(wiring->attached.count(0xd0000000 + VirtioPciDevice::kNotifyOffset));
  EXPECT_FALSE(wiring->attached.count(*bar4 + VirtioPciDevice::kNotifyOffset));
  // Memory decode off: no ioeventfds.
  uint8_t cmd[2] = {0, 0};
  bus.config_write(0, slot, 0, pci::kCommand, cmd);
  EXPECT_TRUE(wiring->attached.empty());
}

}  // namespace
}  // namespace wren::testing
