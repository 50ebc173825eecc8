// The configuration a migration's two ends compare: every guest-visible
// setting of NICs and disks is in it, the host's own choices are not.
#include <gtest/gtest.h>

#include "migrate/live/vm_config.h"
#include "vmm/cli/run_config.h"
#include "vmm/migration/machine_vm_config.h"

namespace wren {
namespace {

RunConfig machine() {
  RunConfig config;
  config.nets.push_back(NetConfig{});
  DiskConfig disk;
  disk.path = "/images/a.img";
  disk.serial = "data";
  config.disks.push_back(disk);
  return config;
}

OfferedDevices offered() {
  OfferedDevices out;
  out.nic_features = {0x1234};
  out.disks = {{.features = 0x5678, .capacity_bytes = 1 << 30, .serial = "data"}};
  return out;
}

std::string difference(const RunConfig& destination, const OfferedDevices& destination_offers) {
  return migrate::live::first_difference(machine_vm_config(machine(), offered()),
                                         machine_vm_config(destination, destination_offers))
      .value_or("(same)");
}

TEST(MachineVmConfig, DisksFollowTheNicsWithWhatTheGuestSees) {
  const auto config = machine_vm_config(machine(), offered());
  ASSERT_EQ(config.devices.size(), 2u);
  EXPECT_EQ(config.devices[1].kind, "virtio-blk");
  EXPECT_EQ(config.devices[1].name, "disk0");
  EXPECT_EQ(config.devices[1].params.at("features"), "0x0000000000005678");
  EXPECT_EQ(config.devices[1].params.at("capacity"), "1073741824");
  EXPECT_EQ(config.devices[1].params.at("serial"), "data");
  EXPECT_EQ(config.devices[1].params.at("read-only"), "off");
  EXPECT_EQ(config.devices[1].params.at("transport"), "modern");
  EXPECT_EQ(config.devices[1].params.at("queues"), "1");
}

TEST(MachineVmConfig, TheImagePathAndCacheModeAreTheHostsOwn) {
  RunConfig destination = machine();
  destination.disks[0].path = "/mnt/shared/a.img";
  destination.disks[0].direct = true;
  EXPECT_EQ(difference(destination, offered()), "(same)");
}

TEST(MachineVmConfig, NamesEachGuestVisibleDiskDifference) {
  OfferedDevices bigger = offered();
  bigger.disks[0].capacity_bytes *= 2;
  EXPECT_EQ(difference(machine(), bigger),
            "device disk0 (virtio-blk) capacity: source '1073741824', destination '2147483648'");

  RunConfig read_only = machine();
  read_only.disks[0].read_only = true;
  EXPECT_EQ(difference(read_only, offered()), "device disk0 (virtio-blk) read-only: source 'off', destination 'on'");

  RunConfig queues = machine();
  queues.disks[0].queues = 2;
  EXPECT_EQ(difference(queues, offered()), "device disk0 (virtio-blk) queues: source '1', destination '2'");

  RunConfig no_disk = machine();
  no_disk.disks.clear();
  EXPECT_EQ(difference(no_disk, {.nic_features = {0x1234}, .disks = {}}),
            "device disk0: source has it (virtio-blk), destination does not");
}

TEST(MachineVmConfig, MacLockIsCompared) {
  RunConfig locked = machine();
  locked.nets[0].mac_lock = true;
  EXPECT_EQ(difference(locked, offered()),
            "device net0 (virtio-net) mac-lock: source does not have it, destination 'on'");
}

}  // namespace
}  // namespace wren
