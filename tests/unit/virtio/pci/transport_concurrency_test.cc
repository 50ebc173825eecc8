// The device thread signals while vCPU threads reset, reconfigure and read
// the ISR: nothing deadlocks, nothing trips the sanitizers, and after the
// last reset no interrupt state is left behind.
#include <gtest/gtest.h>
#include <linux/virtio_pci.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "unit/virtio/fake_driver.h"
#include "unit/virtio/pci/transport_harness.h"

namespace wren::testing {
namespace {

using namespace virtio_pci;

TEST(TransportConcurrency, SignalsRacingResetsAndRegisterAccess) {
  TransportHarness h(VirtioPciMode::kTransitional);
  FakeDriver q0(h.memory, 16, 0x10000);
  std::atomic<bool> stop{false};

  std::thread device_thread([&] {
    while (!stop.load()) {
      h.device->signal_used(0);
      h.device->signal_config_changed();
      h.device->set_needs_reset();
    }
  });
  std::thread second_vcpu([&] {
    while (!stop.load()) {
      (void)h.bar_read(VirtioPciDevice::kModernBar, VirtioPciDevice::kIsrOffset, 1);
      (void)h.config_read(pci::kStatus, 2);
      h.config_write(pci::kCommand, 2, pci::kCommandMemory | pci::kCommandIo);
      (void)h.legacy_read(VIRTIO_PCI_STATUS, 1);
    }
  });

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  int cycles = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    h.common_write(VIRTIO_PCI_COMMON_STATUS, 1, kStatusAcknowledge | kStatusDriver);
    h.common_write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    h.common_write(VIRTIO_PCI_COMMON_GF, 4, 1);
    h.common_write(VIRTIO_PCI_COMMON_STATUS, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    h.common_write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    h.common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 8, q0.desc_addr());
    h.common_write(VIRTIO_PCI_COMMON_Q_AVAILLO, 8, q0.avail_addr());
    h.common_write(VIRTIO_PCI_COMMON_Q_USEDLO, 8, q0.used_addr());
    h.common_write(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    h.common_write(VIRTIO_PCI_COMMON_STATUS, 1,
                   kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    h.bar_write(VirtioPciDevice::kModernBar, VirtioPciDevice::kNotifyOffset, 2, 0);
    if (cycles % 3 == 0) h.enable_msix();
    if (cycles % 3 == 1) h.config_write(*h.find_cap(pci::kCapIdMsix) + 2, 2, 0);
    h.common_write(VIRTIO_PCI_COMMON_STATUS, 1, 0);
    ++cycles;
  }
  stop = true;
  device_thread.join();
  second_vcpu.join();

  EXPECT_GT(cycles, 10);
  EXPECT_EQ(h.common_read(VIRTIO_PCI_COMMON_STATUS, 1), 0u);
  // Reset happened last and nothing was active since: no ISR bit, line low.
  EXPECT_EQ(h.bar_read(VirtioPciDevice::kModernBar, VirtioPciDevice::kIsrOffset, 1), 0u);
  EXPECT_FALSE(h.intx->level);
}

}  // namespace
}  // namespace wren::testing
