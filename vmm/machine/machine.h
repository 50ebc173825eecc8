#pragma once
// The whole virtual machine: KVM VM and vCPUs, guest memory, buses, platform
// and PCI devices, the event loop and the control socket. Construction sets
// everything up (throwing with a readable message on bad input); run() boots
// the guest and returns the process exit status.
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "hypervisor/event_loop.h"
#include "hypervisor/guest_memory.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/kvm.h"
#include "vmm/boot/bzimage.h"
#include "vmm/cli/run_config.h"
#include "vmm/machine/vm_outcome.h"
#include "vmm/migration/host.h"

namespace wren {

class ApiServer;
class FirmwareBoot;
class SerialBackend;
class VcpuRunner;
class PlatformDevices;
class PciDevices;
class MigrationController;
class KvmStatsFiles;

class Machine {
 public:
  explicit Machine(RunConfig config);
  ~Machine();

  int run();

  void pause();
  void resume();
  bool paused() const { return paused_; }

 private:
  void create_memory();
  void create_vcpus();
  void load_guest();
  void restore_snapshot();
  void start_api();
  void flush_api_output();
  MigrationHost migration_host();
  // The control socket's `snapshot` command.
  nlohmann::json snapshot_command(const nlohmann::json& arguments);

  RunConfig config_;
  Kvm kvm_;
  Vm vm_;
  std::unique_ptr<GuestMemory> memory_;
  IoBus pio_;
  IoBus mmio_;
  EventLoop loop_;
  OutcomeLatch outcome_;
  std::unique_ptr<SerialBackend> serial_;
  std::unique_ptr<PlatformDevices> platform_;
  std::unique_ptr<PciDevices> pci_;
  std::vector<Vcpu> vcpus_;
  std::vector<std::unique_ptr<VcpuRunner>> runners_;
  std::unique_ptr<KvmStatsFiles> kvm_stats_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<MigrationController> migration_;  // with the control socket
  BootImage boot_image_;
  std::unique_ptr<FirmwareBoot> firmware_;
  bool paused_ = false;
  bool manual_dirty_protect_ = false;
};

}  // namespace wren
