#include "devices/pci/irqfd_msi.h"

#include <gtest/gtest.h>

#include <set>

namespace wren::pci {
namespace {

class FakeRoutingApi : public GsiRoutingApi {
 public:
  void set_gsi_routing(const std::vector<kvm_irq_routing_entry>& entries) override {
    table = entries;
    ++commits;
  }
  void irqfd(int fd, uint32_t gsi, bool deassign) override {
    if (deassign)
      bound.erase({fd, gsi});
    else
      bound.insert({fd, gsi});
  }
  const kvm_irq_routing_entry* msi_route(uint32_t gsi) const {
    for (const auto& e : table)
      if (e.gsi == gsi && e.type == KVM_IRQ_ROUTING_MSI) return &e;
    return nullptr;
  }
  std::vector<kvm_irq_routing_entry> table;
  std::set<std::pair<int, uint32_t>> bound;
  int commits = 0;
};

TEST(GsiRouteTable, KeepsDefaultIrqchipRoutes) {
  FakeRoutingApi api;
  GsiRouteTable routes(api);
  const uint32_t gsi = routes.allocate();
  EXPECT_GE(gsi, GsiRouteTable::kFirstMsiGsi);
  int ioapic = 0, pic = 0;
  for (const auto& e : api.table) {
    if (e.type != KVM_IRQ_ROUTING_IRQCHIP) continue;
    if (e.u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC) {
      EXPECT_EQ(e.u.irqchip.pin, e.gsi);
      ++ioapic;
    } else {
      EXPECT_EQ(e.u.irqchip.pin, e.gsi % 8);
      ++pic;
    }
  }
  EXPECT_EQ(ioapic, 24);
  EXPECT_EQ(pic, 16);
  ASSERT_NE(api.msi_route(gsi), nullptr);
}

TEST(GsiRouteTable, SetMsiCommitsOnlyOnChangeAndReleaseReuses) {
  FakeRoutingApi api;
  GsiRouteTable routes(api);
  const uint32_t a = routes.allocate();
  const int commits = api.commits;
  routes.set_msi(a, 0x1'fee01000, 0x4021);
  EXPECT_EQ(api.commits, commits + 1);
  const auto* e = api.msi_route(a);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->u.msi.address_lo, 0xfee01000u);
  EXPECT_EQ(e->u.msi.address_hi, 1u);
  EXPECT_EQ(e->u.msi.data, 0x4021u);
  routes.set_msi(a, 0x1'fee01000, 0x4021);
  EXPECT_EQ(api.commits, commits + 1);
  routes.release(a);
  EXPECT_EQ(api.msi_route(a), nullptr);
  EXPECT_EQ(routes.allocate(), a);
}

TEST(IrqfdMsiVectorSink, BindsOneEventfdPerVectorAndSignalsIt) {
  FakeRoutingApi api;
  GsiRouteTable routes(api);
  {
    IrqfdMsiVectorSink sink(routes, api, 3);
    EXPECT_EQ(api.bound.size(), 3u);
    sink.route_changed(1, 0xfee00000, 0x41);
    const auto* e = api.msi_route(sink.gsi(1));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->u.msi.data, 0x41u);
    const int commits = api.commits;
    sink.deliver(1, 0xfee00000, 0x41);  // same route: no ioctl
    EXPECT_EQ(api.commits, commits);
    uint64_t count = 0;
    ASSERT_EQ(::read(sink.event_fd(1), &count, sizeof(count)), static_cast<ssize_t>(sizeof(count)));
    EXPECT_EQ(count, 1u);
    sink.deliver(2, 0xfee00000, 0x42);  // never routed: programs the route first
    ASSERT_NE(api.msi_route(sink.gsi(2)), nullptr);
    EXPECT_EQ(api.msi_route(sink.gsi(2))->u.msi.data, 0x42u);
    sink.deliver(7, 0, 0);  // out of range: ignored
  }
  EXPECT_TRUE(api.bound.empty());
  for (const auto& e : api.table) EXPECT_NE(e.type, static_cast<uint32_t>(KVM_IRQ_ROUTING_MSI));
}

}  // namespace
}  // namespace wren::pci
