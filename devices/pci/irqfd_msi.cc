#include "devices/pci/irqfd_msi.h"

#include <stdexcept>

#include "hypervisor/kvm.h"

namespace wren::pci {

void VmGsiRoutingApi::set_gsi_routing(const std::vector<kvm_irq_routing_entry>& entries) {
  vm_.set_gsi_routing(entries);
}

void VmGsiRoutingApi::irqfd(int event_fd, uint32_t gsi, bool deassign) { vm_.irqfd(event_fd, gsi, deassign); }

namespace {

kvm_irq_routing_entry irqchip_route(uint32_t gsi, uint32_t chip, uint32_t pin) {
  kvm_irq_routing_entry e{};
  e.gsi = gsi;
  e.type = KVM_IRQ_ROUTING_IRQCHIP;
  e.u.irqchip.irqchip = chip;
  e.u.irqchip.pin = pin;
  return e;
}

}  // namespace

std::vector<kvm_irq_routing_entry> GsiRouteTable::build_locked() const {
  std::vector<kvm_irq_routing_entry> entries;
  // KVM's default table (kvm_setup_default_irq_routing): GSI i -> PIC pin and
  // IOAPIC pin i for i < 16, IOAPIC only for 16..23.
  for (uint32_t gsi = 0; gsi < kFirstMsiGsi; ++gsi) {
    if (gsi < 16)
      entries.push_back(irqchip_route(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
    entries.push_back(irqchip_route(gsi, KVM_IRQCHIP_IOAPIC, gsi));
  }
  for (const auto& [gsi, route] : msi_routes_) {
    kvm_irq_routing_entry e{};
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = static_cast<uint32_t>(route.address);
    e.u.msi.address_hi = static_cast<uint32_t>(route.address >> 32);
    e.u.msi.data = route.data;
    entries.push_back(e);
  }
  return entries;
}

uint32_t GsiRouteTable::allocate() {
  std::lock_guard lock(mutex_);
  uint32_t gsi = 0;
  if (!free_gsis_.empty()) {
    gsi = free_gsis_.back();
    free_gsis_.pop_back();
  } else {
    if (next_gsi_ >= kFirstMsiGsi + kMaxMsiRoutes) throw std::runtime_error("out of MSI GSIs");
    gsi = next_gsi_++;
  }
  msi_routes_[gsi] = Route{};
  api_.set_gsi_routing(build_locked());
  return gsi;
}

void GsiRouteTable::release(uint32_t gsi) {
  std::lock_guard lock(mutex_);
  if (msi_routes_.erase(gsi) == 0) return;
  free_gsis_.push_back(gsi);
  api_.set_gsi_routing(build_locked());
}

void GsiRouteTable::set_msi(uint32_t gsi, uint64_t address, uint32_t data) {
  std::lock_guard lock(mutex_);
  auto it = msi_routes_.find(gsi);
  if (it == msi_routes_.end()) return;
  if (it->second.address == address && it->second.data == data) return;
  it->second = Route{address, data};
  api_.set_gsi_routing(build_locked());
}

std::vector<kvm_irq_routing_entry> GsiRouteTable::entries() const {
  std::lock_guard lock(mutex_);
  return build_locked();
}

IrqfdMsiVectorSink::IrqfdMsiVectorSink(GsiRouteTable& routes, GsiRoutingApi& api, uint16_t vectors)
    : routes_(routes), api_(api) {
  vectors_.reserve(vectors);
  try {
    for (uint16_t v = 0; v < vectors; ++v) {
      Vector vec;
      vec.gsi = routes_.allocate();
      vec.fd = std::make_unique<EventFd>();
      try {
        api_.irqfd(vec.fd->fd(), vec.gsi, false);
      } catch (...) {
        routes_.release(vec.gsi);
        throw;
      }
      vectors_.push_back(std::move(vec));
    }
  } catch (...) {
    for (auto& vec : vectors_) {
      api_.irqfd(vec.fd->fd(), vec.gsi, true);
      routes_.release(vec.gsi);
    }
    throw;
  }
}

IrqfdMsiVectorSink::~IrqfdMsiVectorSink() {
  for (auto& vec : vectors_) {
    try {
      api_.irqfd(vec.fd->fd(), vec.gsi, true);
    } catch (...) {
      // Tearing down: the VM may already be gone; closing the fd detaches it.
    }
    routes_.release(vec.gsi);
  }
}

void IrqfdMsiVectorSink::ensure_route(uint16_t vector, uint64_t address, uint32_t data) {
  Vector& vec = vectors_[vector];
  std::lock_guard lock(mutex_);
  if (vec.routed && vec.address == address && vec.data == data) return;
  routes_.set_msi(vec.gsi, address, data);
  vec.address = address;
  vec.data = data;
  vec.routed = true;
}

void IrqfdMsiVectorSink::route_changed(uint16_t vector, uint64_t address, uint32_t data) {
  if (vector >= vectors_.size()) return;
  ensure_route(vector, address, data);
}

void IrqfdMsiVectorSink::deliver(uint16_t vector, uint64_t address, uint32_t data) {
  if (vector >= vectors_.size()) return;
  ensure_route(vector, address, data);  // normally a no-op: route_changed came first
  vectors_[vector].fd->signal();
}

}  // namespace wren::pci
