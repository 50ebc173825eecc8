#pragma once
// The source end of live migration: the control socket's `migrate`,
// `query-migrate` and `migrate-cancel`, one migration thread at a time
// running migrate::live::MigrationSource against this machine.
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "vmm/migration/host.h"

namespace wren {

class ApiServer;
namespace migrate::live {
class MigrationSource;
}

class MigrationController {
 public:
  explicit MigrationController(MigrationHost host);
  // Cancels a running migration (the guest keeps running) and waits for it.
  // Destroy before the device loop stops: the migration thread parks it.
  ~MigrationController();
  MigrationController(const MigrationController&) = delete;
  MigrationController& operator=(const MigrationController&) = delete;

  void register_api(ApiServer& api);

  // The handlers, public for tests. `start` validates and returns at once.
  nlohmann::json start(const nlohmann::json& arguments);
  nlohmann::json query() const;
  nlohmann::json cancel();

 private:
  struct Request {
    std::string uri;
    uint32_t downtime_ms = 300;
    uint32_t timeout_s = 600;
    uint32_t io_timeout_s = 10;
    uint64_t max_bandwidth_mbps = 0;
  };
  void run(Request request);
  void update(const nlohmann::json& fields, bool announce);

  MigrationHost host_;
  mutable std::mutex mutex_;
  nlohmann::json status_;
  bool active_ = false;
  bool cancel_requested_ = false;
  migrate::live::MigrationSource* source_ = nullptr;  // while run() drives one
  std::thread thread_;
};

}  // namespace wren
