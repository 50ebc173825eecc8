#include "devices/pci/bus.h"

#include <gtest/gtest.h>

#include "devices/pci/config_io_port.h"
#include "devices/pci/ecam.h"
#include "devices/pci/host_bridge.h"
#include "devices/pci/registers.h"
#include "hypervisor/layout.h"
#include "hypervisor/little_endian.h"
#include "unit/devices/pci/fakes.h"

namespace wren::pci {
namespace {

using testing::FakeIrqLine;
using testing::FakePciDevice;

class PciBusTest : public ::testing::Test {
 protected:
  PciBusTest() : bus(mmio, pio, {&lines[0], &lines[1], &lines[2], &lines[3]}) {
    EXPECT_TRUE(pio.insert(layout::kPortPciConfigAddr, PciConfigIoPort::kLength, port));
    EXPECT_TRUE(mmio.insert(layout::kPciEcamStart, layout::kPciEcamSize, ecam));
  }

  // Port I/O like a guest does it.
  void outl(uint16_t port_addr, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    pio.write(port_addr, b);
  }
  uint32_t inl(uint16_t port_addr) {
    uint8_t b[4];
    pio.read(port_addr, b);
    return static_cast<uint32_t>(load_le(b));
  }
  uint16_t inw(uint16_t port_addr) {
    uint8_t b[2];
    pio.read(port_addr, b);
    return static_cast<uint16_t>(load_le(b));
  }
  uint8_t inb(uint16_t port_addr) {
    uint8_t b = 0;
    pio.read(port_addr, std::span(&b, 1));
    return b;
  }
  static uint32_t cf8(uint8_t b, uint8_t d, uint8_t f, uint8_t reg) {
    return 0x80000000u | (uint32_t{b} << 16) | (uint32_t{d} << 11) | (uint32_t{f} << 8) | reg;
  }
  uint32_t cfg_read32(uint8_t slot, uint8_t reg) {
    outl(0xcf8, cf8(0, slot, 0, reg));
    return inl(0xcfc);
  }
  void cfg_write32(uint8_t slot, uint8_t reg, uint32_t v) {
    outl(0xcf8, cf8(0, slot, 0, reg));
    outl(0xcfc, v);
  }
  void cfg_write16(uint8_t slot, uint8_t reg, uint16_t v) {
    outl(0xcf8, cf8(0, slot, 0, reg & 0xfc));
    uint8_t b[2];
    store_le(b, v);
    pio.write(0xcfc + (reg & 3), b);
  }
  uint64_t ecam_offset(uint8_t b, uint8_t d, uint8_t f, uint16_t reg) {
    return layout::kPciEcamStart + (uint64_t{b} << 20) + (uint64_t{d} << 15) + (uint64_t{f} << 12) + reg;
  }

  IoBus mmio, pio;
  FakeIrqLine lines[4];
  PciBus bus;
  std::shared_ptr<PciConfigIoPort> port = std::make_shared<PciConfigIoPort>(bus);
  std::shared_ptr<PciEcam> ecam = std::make_shared<PciEcam>(bus);
};

TEST_F(PciBusTest, HostBridgeAtSlotZero) {
  EXPECT_EQ(cfg_read32(0, 0), (uint32_t{kHostBridgeDeviceId} << 16) | kRedHatVendorId);
  EXPECT_EQ(cfg_read32(0, 0x08) >> 8, kClassHostBridge);
  EXPECT_EQ(cfg_read32(0, 0x0c) >> 16 & 0xff, 0u);  // header type 0
}

TEST_F(PciBusTest, AbsentFunctionsReadAllOnes) {
  EXPECT_EQ(cfg_read32(5, 0), 0xffffffffu);  // empty slot
  outl(0xcf8, cf8(0, 0, 1, 0));              // function 1 of the host bridge
  EXPECT_EQ(inl(0xcfc), 0xffffffffu);
  outl(0xcf8, cf8(1, 0, 0, 0));  // bus 1
  EXPECT_EQ(inl(0xcfc), 0xffffffffu);
  outl(0xcf8, 0x00000000);  // enable bit clear
  EXPECT_EQ(inl(0xcfc), 0xffffffffu);
}

TEST_F(PciBusTest, ConfigAddressRegister) {
  outl(0xcf8, 0x80001237);
  EXPECT_EQ(inl(0xcf8), 0x80001234u);  // bits 1:0 reserved
  // Linux's type-1 probe: byte write to 0xCFB, then the dword round trip.
  uint8_t one = 1;
  pio.write(0xcfb, std::span(&one, 1));
  outl(0xcf8, 0x80000000);
  EXPECT_EQ(inl(0xcf8), 0x80000000u);
}

TEST_F(PciBusTest, DataPortByteWordDwordOffsets) {
  outl(0xcf8, cf8(0, 0, 0, 0));
  EXPECT_EQ(inw(0xcfc), kRedHatVendorId);
  EXPECT_EQ(inw(0xcfe), kHostBridgeDeviceId);
  EXPECT_EQ(inb(0xcfd), kRedHatVendorId >> 8);
  EXPECT_EQ(inb(0xcff), kHostBridgeDeviceId >> 8);
}

TEST_F(PciBusTest, EcamAddressing) {
  uint8_t b[4];
  mmio.read(ecam_offset(0, 0, 0, 0), b);
  EXPECT_EQ(load_le(b), (uint32_t{kHostBridgeDeviceId} << 16) | kRedHatVendorId);
  uint8_t w[2];
  mmio.read(ecam_offset(0, 0, 0, 2), w);
  EXPECT_EQ(load_le(w), kHostBridgeDeviceId);
  mmio.read(ecam_offset(1, 0, 0, 0), b);
  EXPECT_EQ(load_le(b), 0xffffffffu);
  mmio.read(ecam_offset(0, 3, 0, 0), b);
  EXPECT_EQ(load_le(b), 0xffffffffu);
  mmio.read(ecam_offset(255, 31, 7, 0xffc), b);
  EXPECT_EQ(load_le(b), 0xffffffffu);
  // Extended config of an existing function reads zero (no extended caps).
  mmio.read(ecam_offset(0, 0, 0, 0x100), b);
  EXPECT_EQ(load_le(b), 0u);
  // Crossing the function's 4 KiB: all-ones, no crash.
  mmio.read(ecam_offset(0, 0, 0, 0xffe), b);
  EXPECT_EQ(load_le(b), 0xffffffffu);
  // 8 bytes = two dwords: ids, then revision + class.
  uint8_t q[8];
  mmio.read(ecam_offset(0, 0, 0, 8), q);
  EXPECT_EQ(load_le(q), uint64_t{kClassHostBridge} << 8);
  mmio.read(ecam_offset(0, 0, 0, 0), q);
  EXPECT_EQ(load_le(q) & 0xffffffff, (uint32_t{kHostBridgeDeviceId} << 16) | kRedHatVendorId);
}

TEST_F(PciBusTest, PlacesBarsInsideTheWindowsAndEnablesDecode) {
  auto dev = std::make_shared<FakePciDevice>();
  const uint8_t slot = bus.add_device(dev);
  EXPECT_EQ(slot, 1);
  const auto io = bus.bar_mapping(slot, 0);
  const auto m32 = bus.bar_mapping(slot, 1);
  const auto m64 = bus.bar_mapping(slot, 2);
  ASSERT_TRUE(io && m32 && m64);
  EXPECT_GE(*io, layout::kPciIoStart);
  EXPECT_LE(*io + 0x20, uint64_t{layout::kPciIoEnd} + 1);
  EXPECT_EQ(*io % 0x20, 0u);
  for (uint64_t base : {*m32, *m64}) {
    EXPECT_GE(base, layout::kPciMmio32Start);
    EXPECT_LT(base, layout::kPciMmio32End);
  }
  EXPECT_EQ(*m64 % 0x4000, 0u);
  EXPECT_EQ(dev->config().command() & (kCommandIo | kCommandMemory), kCommandIo | kCommandMemory);
  // The regions answer on the buses.
  uint8_t b = 0;
  EXPECT_TRUE(pio.read(*io + 3, std::span(&b, 1)));
  EXPECT_EQ(b, 0xa0);
  EXPECT_TRUE(mmio.read(*m64 + 0x3ffc, std::span(&b, 1)));
  EXPECT_EQ(b, 0xa2);
  EXPECT_EQ(cfg_read32(slot, 0x10), static_cast<uint32_t>(*io) | kBarIoSpace);
}

TEST_F(PciBusTest, GuestMovesBarAndBusFollows) {
  auto dev = std::make_shared<FakePciDevice>();
  const uint8_t slot = bus.add_device(dev);
  const uint64_t old = *bus.bar_mapping(slot, 1);
  const uint64_t moved = 0xd0000000;
  cfg_write32(slot, 0x14, static_cast<uint32_t>(moved));
  EXPECT_EQ(bus.bar_mapping(slot, 1), moved);
  uint8_t b = 0;
  EXPECT_FALSE(mmio.read(old, std::span(&b, 1)));  // nothing there any more
  EXPECT_TRUE(mmio.read(moved + 0x10, std::span(&b, 1)));
  EXPECT_EQ(b, 0xa1);
  const uint8_t w = 0x5a;
  EXPECT_TRUE(mmio.write(moved + 0x10, std::span(&w, 1)));
  ASSERT_EQ(dev->region(1)->writes.size(), 1u);
  EXPECT_EQ(dev->region(1)->writes[0].first, 0x10u);
  // The device heard about it.
  EXPECT_EQ(dev->events.back(), std::make_tuple(1, moved, true));
}

TEST_F(PciBusTest, Move64BitBarInTwoHalves) {
  auto dev = std::make_shared<FakePciDevice>();
  const uint8_t slot = bus.add_device(dev);
  cfg_write32(slot, 0x18, 0xd0004000);
  cfg_write32(slot, 0x1c, 0x1);
  EXPECT_EQ(bus.bar_mapping(slot, 2), 0x1d0004000u);
  uint8_t b = 0;
  EXPECT_TRUE(mmio.read(0x1d0004000, std::span(&b, 1)));
  EXPECT_EQ(b, 0xa2);
}

TEST_F(PciBusTest, DecodeDisableUnmapsAndSizingWhileDisabledMapsNothing) {
  auto dev = std::make_shared<FakePciDevice>();
  const uint8_t slot = bus.add_device(dev);
  const uint64_t m32 = *bus.bar_mapping(slot, 1);
  const uint64_t io = *bus.bar_mapping(slot, 0);
  cfg_write16(slot, kCommand, 0);  // Linux does this around BAR sizing
  EXPECT_FALSE(bus.bar_mapping(slot, 0));
  EXPECT_FALSE(bus.bar_mapping(slot, 1));
  EXPECT_FALSE(bus.bar_mapping(slot, 2));
  uint8_t b = 0;
  EXPECT_FALSE(mmio.read(m32, std::span(&b, 1)));
  EXPECT_FALSE(pio.read(io, std::span(&b, 1)));

  cfg_write32(slot, 0x14, 0xffffffff);
  EXPECT_EQ(cfg_read32(slot, 0x14), 0xfffff000u);
  cfg_write32(slot, 0x14, static_cast<uint32_t>(m32));
  EXPECT_FALSE(bus.bar_mapping(slot, 1));

  cfg_write16(slot, kCommand, kCommandMemory);  // memory only
  EXPECT_EQ(bus.bar_mapping(slot, 1), m32);
  EXPECT_FALSE(bus.bar_mapping(slot, 0));
  cfg_write16(slot, kCommand, kCommandMemory | kCommandIo);
  EXPECT_EQ(bus.bar_mapping(slot, 0), io);
}

TEST_F(PciBusTest, SizingWithDecodeOnNeverMapsAWrappingRange) {
  auto dev = std::make_shared<FakePciDevice>();
  const uint8_t slot = bus.add_device(dev);
  cfg_write32(slot, 0x18, 0xffffffff);
  cfg_write32(slot, 0x1c, 0xffffffff);  // 0xffff_ffff_ffff_c000 + 16 KiB wraps
  EXPECT_FALSE(bus.bar_mapping(slot, 2));
  cfg_write32(slot, 0x10, 0xffffffff);  // I/O BAR at 0xffff_ffe0: outside the 64 KiB port space
  EXPECT_FALSE(bus.bar_mapping(slot, 0));
  cfg_write32(slot, 0x10, 0xffe0);  // the top 32 bytes of it: fits
  EXPECT_EQ(bus.bar_mapping(slot, 0), 0xffe0u);
}

TEST_F(PciBusTest, OverlappingBarIsNotDecoded) {
  auto a = std::make_shared<FakePciDevice>();
  auto b = std::make_shared<FakePciDevice>();
  const uint8_t sa = bus.add_device(a);
  const uint8_t sb = bus.add_device(b);
  const uint64_t a_base = *bus.bar_mapping(sa, 1);
  cfg_write32(sb, 0x14, static_cast<uint32_t>(a_base));
  EXPECT_FALSE(bus.bar_mapping(sb, 1));
  uint8_t v = 0;
  EXPECT_TRUE(mmio.read(a_base, std::span(&v, 1)));
  EXPECT_EQ(v, 0xa1);
  // Over the ECAM window: refused too.
  cfg_write32(sb, 0x14, static_cast<uint32_t>(layout::kPciEcamStart));
  EXPECT_FALSE(bus.bar_mapping(sb, 1));
  EXPECT_EQ(cfg_read32(0, 0) & 0xffff, kRedHatVendorId);  // ECAM still works
}

TEST_F(PciBusTest, IntxGsiPerSlotAndSharing) {
  std::vector<std::shared_ptr<FakePciDevice>> devs;
  for (int i = 0; i < 5; ++i) {
    devs.push_back(std::make_shared<FakePciDevice>());
    const uint8_t slot = bus.add_device(devs.back());
    EXPECT_EQ(slot, i + 1);
    EXPECT_EQ(cfg_read32(slot, kInterruptLine) & 0xff, layout::kPciIntxFirstGsi + (slot % 4));
    EXPECT_EQ((cfg_read32(slot, kInterruptLine) >> 8) & 0xff, 1u);
    ASSERT_TRUE(devs.back()->intx);
  }
  EXPECT_EQ(intx_gsi(1, 1), 17u);
  EXPECT_EQ(intx_gsi(3, 2), 16u);
  // Slots 1 and 5 share GSI 17 (line index 1): level is the OR.
  devs[0]->intx->set_level(true);
  EXPECT_TRUE(lines[1].level);
  devs[4]->intx->set_level(true);
  devs[0]->intx->set_level(false);
  EXPECT_TRUE(lines[1].level);
  devs[4]->intx->set_level(false);
  EXPECT_FALSE(lines[1].level);
  devs[1]->intx->set_level(true);  // slot 2 -> GSI 18
  EXPECT_TRUE(lines[2].level);
  EXPECT_FALSE(lines[1].level);
}

TEST_F(PciBusTest, SlotExhaustionAndExplicitSlot) {
  EXPECT_THROW(bus.add_device(std::make_shared<FakePciDevice>(), 0), std::runtime_error);
  EXPECT_EQ(bus.add_device(std::make_shared<FakePciDevice>(), 7), 7);
  EXPECT_THROW(bus.add_device(std::make_shared<FakePciDevice>(), 32), std::runtime_error);
}

TEST_F(PciBusTest, ResetReplacesBars) {
  auto dev = std::make_shared<FakePciDevice>();
  const uint8_t slot = bus.add_device(dev);
  const uint64_t placed = *bus.bar_mapping(slot, 1);
  cfg_write32(slot, 0x14, 0xd0000000);
  bus.reset();
  EXPECT_EQ(dev->resets, 1);
  EXPECT_EQ(bus.bar_mapping(slot, 1), placed);
  uint8_t v = 0;
  EXPECT_FALSE(mmio.read(0xd0000000, std::span(&v, 1)));
  EXPECT_TRUE(mmio.read(placed, std::span(&v, 1)));
}

TEST_F(PciBusTest, ResetControlPort) {
  int requests = 0;
  PciConfigIoPort p(bus, [&] { ++requests; });
  uint8_t v = 0x02;
  p.write(1, std::span(&v, 1));
  EXPECT_EQ(requests, 0);
  v = 0x06;
  p.write(1, std::span(&v, 1));
  EXPECT_EQ(requests, 1);
}

TEST_F(PciBusTest, BusDestructionUnmapsEverything) {
  IoBus m, p;
  {
    PciBus b(m, p);
    b.add_device(std::make_shared<FakePciDevice>());
    uint8_t v = 0;
    EXPECT_TRUE(m.read(layout::kPciMmio32Start, std::span(&v, 1)));
  }
  uint8_t v = 0;
  EXPECT_FALSE(m.read(layout::kPciMmio32Start, std::span(&v, 1)));
}

}  // namespace
}  // namespace wren::pci
