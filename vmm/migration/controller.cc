#include "vmm/migration/controller.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "hypervisor/loop_hold.h"
#include "migrate/live/source.h"
#include "migrate/live/tcp_channel.h"
#include "vmm/api/api_server.h"
#include "vmm/migration/dirty_tracker.h"
#include "vmm/migration/rate_limited_channel.h"

namespace wren {

namespace {

using namespace std::chrono;
namespace live = migrate::live;

// The machine as live::MigrationSource sees it. Pausing parks the device
// loop as well as the vCPUs, so no device writes guest RAM or changes state
// between the last dirty pages and the payloads.
class MachineSourceVm : public live::SourceVm {
 public:
  explicit MachineSourceVm(MigrationHost& host)
      : host_(host), tracker_(host.parts.vm, host.parts.memory, host.manual_dirty_protect) {}

  live::VmConfig config() override { return host_.config(); }
  const GuestMemory& memory() override { return host_.parts.memory; }
  void start_dirty_tracking() override {
    LoopHold quiet(host_.loop);
    tracker_.start();
  }
  void stop_dirty_tracking() override { tracker_.stop(); }
  std::vector<uint64_t> take_dirty_pages() override {
    if (hold_) return tracker_.take();
    LoopHold quiet(host_.loop);  // no device is between marking a page and writing it
    return tracker_.take();
  }
  void pause() override {
    if (hold_) return;
    hold_.emplace(host_.loop);
    was_paused_ = host_.is_paused();
    host_.pause_vcpus();
  }
  void resume() override {
    if (!hold_) return;
    if (!was_paused_) host_.resume_vcpus();
    hold_.reset();
  }
  std::vector<migrate::Payload> capture_payloads() override { return capture_machine_payloads(host_.parts); }

 private:
  MigrationHost& host_;
  DirtyTracker tracker_;
  std::optional<LoopHold> hold_;
  bool was_paused_ = false;
};

template <typename T>
T optional_number(const nlohmann::json& args, const char* key, T fallback, T min, T max) {
  if (!args.contains(key)) return fallback;
  const auto& v = args[key];
  if (!v.is_number_unsigned() || v.get<uint64_t>() < min || v.get<uint64_t>() > max)
    throw ApiError("InvalidArguments", std::string("migrate: \"") + key + "\" must be a whole number from " +
                                           std::to_string(min) + " to " + std::to_string(max));
  return static_cast<T>(v.get<uint64_t>());
}

}  // namespace

MigrationController::MigrationController(MigrationHost host) : host_(std::move(host)), status_({{"status", "none"}}) {}

MigrationController::~MigrationController() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void MigrationController::register_api(ApiServer& api) {
  api.add_command("migrate", [this](const nlohmann::json& args) { return start(args); });
  api.add_command("query-migrate", [this](const nlohmann::json&) { return query(); });
  api.add_command("migrate-cancel", [this](const nlohmann::json&) { return cancel(); });
}

nlohmann::json MigrationController::start(const nlohmann::json& args) {
  if (!args.is_object() || !args.contains("uri") || !args["uri"].is_string())
    throw ApiError("InvalidArguments", "migrate: \"uri\" (tcp:HOST:PORT) is required");
  Request req;
  req.uri = args["uri"].get<std::string>();
  if (auto addr = live::parse_tcp_address(req.uri); !addr)
    throw ApiError("InvalidArguments", "migrate: " + addr.error());
  req.downtime_ms = optional_number<uint32_t>(args, "downtime_ms", 300, 1, 60'000);
  req.timeout_s = optional_number<uint32_t>(args, "timeout_s", 600, 1, 86'400);
  req.io_timeout_s = optional_number<uint32_t>(args, "io_timeout_s", 10, 1, 600);
  req.max_bandwidth_mbps = optional_number<uint64_t>(args, "max_bandwidth_mbps", 0, 0, 1'000'000);

  std::lock_guard lock(mutex_);
  if (active_) throw ApiError("MigrationActive", "a migration is already running (migrate-cancel ends it)");
  if (thread_.joinable()) thread_.join();  // the previous one has finished
  active_ = true;
  cancel_requested_ = false;
  status_ = {{"status", "active"}, {"phase", "connecting"}, {"uri", req.uri}, {"round", 0}, {"pages_sent", 0}};
  thread_ = std::thread([this, req] { run(req); });
  return nlohmann::json::object();
}

nlohmann::json MigrationController::query() const {
  std::lock_guard lock(mutex_);
  return status_;
}

nlohmann::json MigrationController::cancel() {
  std::lock_guard lock(mutex_);
  if (!active_) return {{"cancelled", false}};
  cancel_requested_ = true;
  const bool in_time = source_ ? source_->cancel() : true;
  return {{"cancelled", in_time}};
}

void MigrationController::update(const nlohmann::json& fields, bool announce) {
  nlohmann::json snapshot;
  {
    std::lock_guard lock(mutex_);
    status_.update(fields);
    snapshot = status_;
  }
  if (announce && host_.emit) host_.emit("MIGRATION", snapshot);
}

void MigrationController::run(Request req) {
  std::fprintf(stderr, "wren: migration to %s: connecting\n", req.uri.c_str());
  live::SourceResult result;
  try {
    auto addr = live::parse_tcp_address(req.uri);
    auto channel = live::TcpChannel::connect(*addr, seconds(req.io_timeout_s));
    RateLimitedChannel limited(*channel, req.max_bandwidth_mbps * 1'000'000);
    MachineSourceVm vm(host_);
    live::SourceOptions options;
    options.downtime = milliseconds(req.downtime_ms);
    options.timeout = seconds(req.timeout_s);
    std::string last_phase;
    options.on_progress = [&](const live::SourceProgress& p) {
      const std::string phase = live::phase_name(p.phase);
      const double mbps = p.mib_per_s * 1.048576;
      std::fprintf(
          stderr, "wren: migration: %-13s round %u: %llu pages, %.1f MB/s, %llu dirty, est. downtime %lld ms\n",
          phase.c_str(), p.round, static_cast<unsigned long long>(p.round_pages), mbps,
          static_cast<unsigned long long>(p.dirty_pages), static_cast<long long>(p.estimated_downtime.count()));
      update({{"phase", phase},
              {"round", p.round},
              {"dirty_pages", p.dirty_pages},
              {"mbps", mbps},
              // Unknown (no rate measured yet) shows as null.
              {"estimated_downtime_ms", p.estimated_downtime == milliseconds::max()
                                            ? nlohmann::json(nullptr)
                                            : nlohmann::json(p.estimated_downtime.count())},
              {"bytes", p.bytes_sent},
              {"elapsed_ms", p.elapsed.count()}},
             phase != last_phase);
      last_phase = phase;
    };
    live::MigrationSource source(vm, limited, options);
    {
      std::lock_guard lock(mutex_);
      source_ = &source;
      if (cancel_requested_) source.cancel();
    }
    result = source.run();
    std::lock_guard lock(mutex_);
    source_ = nullptr;
  } catch (const std::exception& e) {  // connect failed, or the machine refused
    result.outcome = live::SourceOutcome::failed;
    result.error = e.what();
  }

  nlohmann::json end = {{"pages_sent", result.pages_sent},
                        {"bytes", result.bytes_sent},
                        {"total_ms", result.total.count()},
                        {"downtime_ms", result.downtime.count()},
                        {"round", result.rounds}};
  switch (result.outcome) {
    case live::SourceOutcome::migrated:
      end["status"] = "completed";
      std::fprintf(stderr, "wren: migration to %s completed: %.1f MB in %lld ms, downtime %lld ms\n", req.uri.c_str(),
                   result.bytes_sent / 1e6, static_cast<long long>(result.total.count()),
                   static_cast<long long>(result.downtime.count()));
      break;
    case live::SourceOutcome::failed:
      end["status"] = result.cancelled ? "cancelled" : "failed";
      end["error"] = result.error;
      std::fprintf(stderr, "wren: migration to %s %s: %s (the guest keeps running here)\n", req.uri.c_str(),
                   result.cancelled ? "cancelled" : "failed", result.error.c_str());
      break;
    case live::SourceOutcome::commit_unknown:
      end["status"] = "failed";
      end["error"] = result.error +
                     " (commit unacknowledged: the guest stays paused here; resume it only if the "
                     "destination is not running it)";
      std::fprintf(stderr, "wren: migration to %s: %s\n", req.uri.c_str(), end["error"].get<std::string>().c_str());
      break;
  }
  {
    std::lock_guard lock(mutex_);
    status_.update(end);
    active_ = false;
  }
  if (host_.emit) host_.emit("MIGRATION", query());
  if (result.ok() && host_.on_migrated) host_.on_migrated("guest migrated to " + req.uri);
}

}  // namespace wren
