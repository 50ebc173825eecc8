#pragma once
// The machine's PCI side: host bridge, config-space access (0xCF8 and ECAM),
// INTx lines, MSI-X through irqfd routes, and the virtio-net NICs and
// virtio-blk disks asked for on the command line.
#include <array>
#include <memory>
#include <vector>

#include "hypervisor/event_loop.h"
#include "hypervisor/guest_memory.h"
#include "hypervisor/io_bus.h"
#include "hypervisor/kvm.h"
#include "migrate/payload.h"
#include "vmm/cli/run_config.h"
#include "vmm/machine/vm_outcome.h"
#include "vmm/migration/machine_vm_config.h"

namespace wren {

class ApiServer;
class BlkDevice;
class KvmIrqLine;
class NetDevice;
class VirtioPciDevice;
class IoeventfdApi;
class NotifyWiring;
namespace migrate {
class Import;
}
namespace pci {
class PciBus;
class GsiRoutingApi;
class GsiRouteTable;
}  // namespace pci

class PciDevices {
 public:
  PciDevices(Vm& vm, IoBus& pio, IoBus& mmio, GuestMemory& memory, EventLoop& loop, OutcomeLatch& outcome,
             const std::vector<NetConfig>& nets, const std::vector<DiskConfig>& disks = {}, bool incoming = false);
  ~PciDevices();
  void start();
  void register_api(ApiServer& api);

  // Snapshots: per disk ("disk0", ...) its virtio-pci function and its
  // virtio-blk/device payload (saving waits for the disk's I/O in flight).
  // Per NIC ("net0", ...) its virtio-pci function and its net
  // device payloads. Save with every vCPU paused. restore_payloads (before
  // any vCPU runs, guest memory already loaded) restores each net device,
  // then its transport, then re-derives the BAR mappings; it throws
  // std::runtime_error naming the payload that is missing or refused.
  std::vector<migrate::Payload> save_payloads();
  void restore_payloads(migrate::Import& import);
  // Asks every NIC's guest driver to announce itself (after a restore).
  void announce_nics();
  // What each NIC and disk offers its guest (both ends of a migration must
  // offer the same: the guest negotiated from the source's).
  OfferedDevices offered() const;

 private:
  void add_net(const NetConfig& config, size_t index);
  void add_disk(const DiskConfig& config, size_t index, bool incoming);
  // A migration destination opens its images unlocked (the source still
  // holds them); it takes the locks once the source has let go.
  void lock_disks_when_free();

  Vm& vm_;
  GuestMemory& memory_;
  EventLoop& loop_;
  std::array<std::unique_ptr<KvmIrqLine>, 4> intx_lines_;
  std::unique_ptr<pci::PciBus> bus_;
  std::unique_ptr<pci::GsiRoutingApi> gsi_api_;
  std::unique_ptr<pci::GsiRouteTable> gsi_routes_;
  std::unique_ptr<IoeventfdApi> ioeventfd_api_;
  std::shared_ptr<NotifyWiring> notify_wiring_;
  struct Nic {
    std::string id;
    std::shared_ptr<NetDevice> net;
    std::shared_ptr<VirtioPciDevice> transport;
  };
  std::vector<Nic> nics_;
  struct Disk {
    std::string id;
    std::shared_ptr<BlkDevice> blk;
    std::shared_ptr<VirtioPciDevice> transport;
  };
  std::vector<Disk> disks_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace wren
