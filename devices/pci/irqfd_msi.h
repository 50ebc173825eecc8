#pragma once
// MSI-X delivery by irqfd: each vector gets a GSI with a KVM MSI route and an
// eventfd bound to it, so firing a vector is one eventfd write from any
// thread (no ioctl on the hot path).
//
// KVM_SET_GSI_ROUTING replaces the whole routing table, so one GsiRouteTable
// per VM owns it: it keeps KVM's default irqchip routes (PIC + IOAPIC pins)
// and adds the MSI routes every device allocates.
#include <linux/kvm.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "devices/pci/msi_vector_sink.h"
#include "hypervisor/event_fd.h"

namespace wren {
class Vm;
}

namespace wren::pci {

// The two KVM ioctls involved; faked in tests.
class GsiRoutingApi {
 public:
  virtual ~GsiRoutingApi() = default;
  virtual void set_gsi_routing(const std::vector<kvm_irq_routing_entry>& entries) = 0;
  virtual void irqfd(int event_fd, uint32_t gsi, bool deassign) = 0;
};

// The real thing, on a VM with an in-kernel irqchip.
class VmGsiRoutingApi : public GsiRoutingApi {
 public:
  explicit VmGsiRoutingApi(Vm& vm) : vm_(vm) {}
  void set_gsi_routing(const std::vector<kvm_irq_routing_entry>& entries) override;
  void irqfd(int event_fd, uint32_t gsi, bool deassign) override;

 private:
  Vm& vm_;
};

class GsiRouteTable {
 public:
  // GSIs 0..23 keep the irqchip routes KVM installs by default (PIC for
  // 0..15, IOAPIC for 0..23); MSI routes are allocated from kFirstMsiGsi.
  static constexpr uint32_t kFirstMsiGsi = 24;
  static constexpr uint32_t kMaxMsiRoutes = 1000;

  explicit GsiRouteTable(GsiRoutingApi& api) : api_(api) {}

  // A fresh GSI with a (disabled: address 0) MSI route. Throws
  // std::runtime_error when the table is full (host invariant).
  uint32_t allocate();
  void release(uint32_t gsi);
  // Points `gsi` at (address, data) and commits the table to KVM if it changed.
  void set_msi(uint32_t gsi, uint64_t address, uint32_t data);

  // The entries committed last (for tests and debugging).
  std::vector<kvm_irq_routing_entry> entries() const;

 private:
  std::vector<kvm_irq_routing_entry> build_locked() const;

  GsiRoutingApi& api_;
  mutable std::mutex mutex_;
  struct Route {
    uint64_t address = 0;
    uint32_t data = 0;
  };
  std::map<uint32_t, Route> msi_routes_;
  uint32_t next_gsi_ = kFirstMsiGsi;
  std::vector<uint32_t> free_gsis_;
};

// One device's MSI-X vectors as irqfds. Allocates a GSI and an eventfd per
// vector at construction and unbinds them at destruction.
class IrqfdMsiVectorSink : public MsiVectorSink {
 public:
  IrqfdMsiVectorSink(GsiRouteTable& routes, GsiRoutingApi& api, uint16_t vectors);
  ~IrqfdMsiVectorSink() override;
  IrqfdMsiVectorSink(const IrqfdMsiVectorSink&) = delete;
  IrqfdMsiVectorSink& operator=(const IrqfdMsiVectorSink&) = delete;

  void deliver(uint16_t vector, uint64_t address, uint32_t data) override;
  void route_changed(uint16_t vector, uint64_t address, uint32_t data) override;

  uint32_t gsi(uint16_t vector) const { return vectors_.at(vector).gsi; }
  int event_fd(uint16_t vector) const { return vectors_.at(vector).fd->fd(); }

 private:
  struct Vector {
    uint32_t gsi = 0;
    std::unique_ptr<EventFd> fd;
    uint64_t address = 0;  // the route KVM has now (guarded by mutex_)
    uint32_t data = 0;
    bool routed = false;
  };
  void ensure_route(uint16_t vector, uint64_t address, uint32_t data);

  GsiRouteTable& routes_;
  GsiRoutingApi& api_;
  std::mutex mutex_;
  std::vector<Vector> vectors_;
};

}  // namespace wren::pci
