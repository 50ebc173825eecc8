#include "vmm/migration/incoming.h"

#include <cstdio>
#include <stdexcept>

#include "migrate/live/destination.h"
#include "migrate/live/tcp_channel.h"

namespace wren {

namespace {

namespace live = migrate::live;

class MachineDestinationVm : public live::DestinationVm {
 public:
  explicit MachineDestinationVm(MigrationHost& host) : host_(host) {}
  live::VmConfig config() override { return host_.config(); }
  GuestMemory& memory() override { return host_.parts.memory; }
  migrate::Status restore(migrate::Import& import) override {
    try {
      restore_machine_state(import, host_.parts);
      return migrate::success();
    } catch (const std::exception& e) {
      return migrate::Failure{e.what()};
    }
  }

 private:
  MigrationHost& host_;
};

}  // namespace

void receive_incoming_migration(const std::string& spec, MigrationHost& host) {
  auto addr = live::parse_tcp_address(spec, true);
  if (!addr) throw std::runtime_error("--incoming: " + addr.error());
  live::TcpListener listener(*addr);
  std::fprintf(stderr, "wren: waiting for a migration on %s\n", spec.c_str());
  auto channel = listener.accept();
  MachineDestinationVm vm(host);
  live::MigrationDestination incoming(vm, *channel);
  const auto result = incoming.run();
  if (!result.committed) throw std::runtime_error("incoming migration failed: " + result.error);
  std::fprintf(stderr, "wren: incoming migration committed (%u rounds, %llu pages)\n", result.rounds,
               static_cast<unsigned long long>(result.pages_received));
}

}  // namespace wren
