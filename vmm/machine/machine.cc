#include "vmm/machine/machine.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <future>
#include <set>
#include <stdexcept>
#include <string>

#include "hypervisor/layout.h"
#include "hypervisor/vcpu_state.h"
#include "vmm/api/api_server.h"
#include "vmm/api/migration_report.h"
#include "vmm/api/qmp_protocol.h"
#include "vmm/api/run_state_report.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/firmware.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/x86_entry.h"
#include "vmm/cpu/cpuid.h"
#include "vmm/machine/exit_status.h"
#include "vmm/machine/kvm_stats_files.h"
#include "vmm/machine/pci_devices.h"
#include "vmm/machine/platform_devices.h"
#include "vmm/machine/serial_backend.h"
#include "vmm/machine/vcpu_runner.h"
#include "vmm/migration/controller.h"
#include "vmm/migration/incoming.h"
#include "vmm/migration/machine_vm_config.h"
#include "vmm/migration/snapshot_io.h"

namespace wren {

namespace {
// KVM on Intel needs three pages for the real-mode TSS and one for the EPT
// identity map, somewhere the guest never uses: just below the BIOS ROM.
constexpr uint64_t kTssAddr = 0xfffbd000;
constexpr uint64_t kIdentityMapAddr = 0xfffbc000;
}  // namespace

Machine::Machine(RunConfig config) : config_(std::move(config)), kvm_(config_.kvm_device), vm_(kvm_.create_vm()) {
  VcpuRunner::install_kick_signal();
  if (vm_.check_extension(KVM_CAP_SET_TSS_ADDR) > 0) vm_.set_tss_addr(kTssAddr);
  if (vm_.check_extension(KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) vm_.set_identity_map_addr(kIdentityMapAddr);
  vm_.create_irqchip();
  vm_.create_pit2();
  manual_dirty_protect_ = vm_.enable_manual_dirty_log_protect();
  create_memory();

  serial_ = std::make_unique<SerialBackend>(config_.serial, loop_.context());
  platform_ = std::make_unique<PlatformDevices>(vm_, pio_, mmio_, loop_.context(), *serial_, *memory_, outcome_,
                                                config_.test_exit, config_.pc_testdev);
  pci_ = std::make_unique<PciDevices>(vm_, pio_, mmio_, *memory_, loop_, outcome_, config_.nets, config_.disks,
                                      !config_.incoming.empty());

  if (!config_.restore.empty()) {
    create_vcpus();
    restore_snapshot();
  } else if (!config_.incoming.empty()) {
    create_vcpus();  // run() fills them from the incoming migration
  } else {
    load_guest();
    create_vcpus();
  }
  if (config_.api_socket) start_api();
}

Machine::~Machine() {
  migration_.reset();  // ends a running migration while the device loop still runs
  for (auto& r : runners_) r->stop();
  for (auto& r : runners_) r->join();
  loop_.stop();
}

void Machine::create_memory() {
  memory_ = std::make_unique<GuestMemory>(GuestMemory::x86_layout(config_.memory_bytes));
  for (size_t i = 0; i < memory_->regions().size(); ++i) {
    const auto& r = memory_->regions()[i];
    vm_.set_user_memory_region(static_cast<uint32_t>(i), r.gpa, r.size, memory_->host_address_for_kvm(i));
  }
}

template <typename T>
static T must(Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error());
  return std::move(r).value();
}

void Machine::load_guest() {
  if (!config_.firmware.empty()) {
    FirmwareBoot::Options options;
    options.firmware_path = config_.firmware;
    options.kernel_path = config_.kernel;
    options.initrd_path = config_.initrd;
    options.cmdline = config_.cmdline;
    options.cpus = config_.cpus;
    if (config_.serial.kind != SerialConfig::Kind::None) options.serial_console_port = layout::kPortCom1;
    const auto rom_slot = static_cast<uint32_t>(memory_->regions().size());
    firmware_ = std::make_unique<FirmwareBoot>(vm_, rom_slot, *memory_, pio_, options);
    return;
  }
  const auto e820 = build_e820(memory_->regions());
  boot_image_ = must(load_kernel(*memory_, {config_.kernel, config_.initrd, config_.cmdline}, e820),
                     "kernel '" + config_.kernel + "'");
  must(write_acpi_tables(*memory_, AcpiConfig{config_.cpus, true}), "ACPI tables");
  must(write_boot_structures(*memory_, boot_image_.mode), "boot page tables");
}

void Machine::create_vcpus() {
  auto model = cpu_model_by_name(config_.cpu_model);
  if (!model)
    throw std::runtime_error("unknown CPU model '" + config_.cpu_model + "' (known: " + cpu_model_names() + ")");
  const auto supported = kvm_.supported_cpuid();
  for (uint32_t i = 0; i < config_.cpus; ++i) {
    Vcpu vcpu = vm_.create_vcpu(i);
    if (!config_.restore.empty() || !config_.incoming.empty()) {
      // The snapshot or the migration sets CPUID and every register.
      vcpus_.push_back(std::move(vcpu));
      continue;
    }
    vcpu.set_cpuid(vcpu_cpuid(*model, supported, i, config_.cpus, vcpu_tsc_khz(vcpu, kvm_)));
    vcpu.set_msrs(boot_msrs());
    vcpu.set_fpu(boot_fpu());
    if (i == 0 && firmware_) {
      vcpu.set_sregs(reset_vector_sregs(vcpu.get_sregs()));
      vcpu.set_regs(reset_vector_regs());
    } else if (i == 0) {
      // The bootstrap processor starts at the kernel entry; the others wait
      // for INIT/SIPI from the guest, handled by the in-kernel LAPIC.
      vcpu.set_sregs(boot_sregs(vcpu.get_sregs(), boot_image_.mode));
      vcpu.set_regs(boot_regs(boot_image_));
    }
    vcpus_.push_back(std::move(vcpu));
  }
  for (auto& v : vcpus_) runners_.push_back(std::make_unique<VcpuRunner>(v, pio_, mmio_, *memory_, outcome_));
  kvm_stats_ = std::make_unique<KvmStatsFiles>(vm_, vcpus_);
}

void Machine::restore_snapshot() {
  if (!config_.kernel.empty() || !config_.initrd.empty() || !config_.cmdline.empty())
    spdlog::warn("--restore: ignoring --kernel, --initrd and --cmdline (the guest continues from the snapshot)");
  restore_machine_snapshot(config_.restore, SnapshotParts{kvm_, vm_, *memory_, vcpus_, *platform_, *pci_},
                           config_.memory_bytes);
}

nlohmann::json Machine::snapshot_command(const nlohmann::json& arguments) {
  if (!arguments.is_object() || !arguments.contains("path") || !arguments["path"].is_string() ||
      arguments["path"].get<std::string>().empty())
    throw ApiError("InvalidArguments", "snapshot: \"path\" (a non-empty string) is required");
  bool resume_after = true;
  if (arguments.contains("resume")) {
    if (!arguments["resume"].is_boolean()) throw ApiError("InvalidArguments", "snapshot: \"resume\" must be a boolean");
    resume_after = arguments["resume"].get<bool>();
  }
  const std::string path = arguments["path"].get<std::string>();
  if (firmware_)
    throw ApiError("SnapshotFailed",
                   "snapshots of a --firmware guest are not supported (the firmware image and "
                   "fw_cfg state are not saved)");
  // A guest the user paused stays paused; a running one runs on unless
  // resume=false (also after a failure: a failed snapshot leaves it as it was).
  const bool was_paused = paused_;
  pause();
  uint64_t bytes = 0;
  try {
    bytes = save_machine_snapshot(path, SnapshotParts{kvm_, vm_, *memory_, vcpus_, *platform_, *pci_});
  } catch (const std::exception& e) {
    if (!was_paused) resume();
    throw ApiError("SnapshotFailed", "snapshot '" + path + "': " + e.what());
  }
  if (!was_paused && resume_after) resume();
  return nlohmann::json{{"path", path}, {"bytes", bytes}, {"paused", paused_}};
}

void Machine::pause() {
  if (paused_) return;
  for (auto& r : runners_) r->pause();
  platform_->pause();
  paused_ = true;
}

void Machine::resume() {
  if (!paused_) return;
  platform_->resume();
  for (auto& r : runners_) r->resume();
  paused_ = false;
}

void Machine::start_api() {
  using nlohmann::json;
  api_ = std::make_unique<ApiServer>(loop_.context(), *config_.api_socket);
  const std::set<std::string> none;  // QEMU refuses any argument to these
  // QEMU's commands, shapes from its QAPI schema (qapi/*.json).
  api_->add_command(
      "query-version", [](const json&) { return qmp_version_info(); }, none);
  api_->add_command(
      "query-status", [this](const json&) { return status_info_json(paused_, config_.cpus, config_.memory_bytes); },
      none);
  api_->add_command(
      "stop",
      [this](const json&) {
        if (!paused_) {
          pause();
          api_->emit("STOP");
        }
        return json::object();
      },
      none);
  api_->add_command(
      "cont",
      [this](const json&) {
        if (paused_) {
          resume();
          api_->emit("RESUME");
        }
        return json::object();
      },
      none);
  api_->add_command(
      "system_powerdown",
      [this](const json&) {
        api_->emit("POWERDOWN");
        platform_->press_power_button();
        return json::object();
      },
      none);
  // Wren has no reboot: like QEMU with -no-reboot, a reset ends the VMM.
  api_->add_command(
      "system_reset",
      [this](const json&) {
        api_->emit("SHUTDOWN", shutdown_event_json(ShutdownCause::kHostQmpSystemReset));
        outcome_.report({VmOutcome::Kind::Quit, 0, "system_reset on the control socket (Wren does not reboot)"});
        return json::object();
      },
      none);
  api_->add_command(
      "quit",
      [this](const json&) {
        api_->emit("SHUTDOWN", shutdown_event_json(ShutdownCause::kHostQmpQuit));
        outcome_.report({VmOutcome::Kind::Quit, 0, "quit requested on the control socket"});
        return json::object();
      },
      none);
  // Wren extensions.
  api_->add_command("snapshot", [this](const json& args) { return snapshot_command(args); });
  migration_ = std::make_unique<MigrationController>(migration_host());
  migration_->register_api(*api_);
  api_->add_command("query-migrate",
                    [this](const json&) { return migration_info_json(migration_->query(), config_.memory_bytes); });
  api_->add_command(
      "migrate_cancel",
      [this](const json&) {
        migration_->cancel();
        return json::object();
      },
      none);
  if (firmware_)  // replaces the controller's "migrate"; query-migrate still answers
    api_->add_command("migrate", [](const json&) -> json {
      throw ApiError("MigrationFailed",
                     "live migration of a --firmware guest is not supported (the firmware image "
                     "and fw_cfg state are not transferred)");
    });
  pci_->register_api(*api_);
  kvm_stats_->register_api(*api_);
}

// Whatever way the VMM ends, the replies and events already queued for
// control-socket clients (the reply to `quit`, a final MIGRATION event) go
// out first; a client that stopped reading delays the exit by 1 s at most.
void Machine::flush_api_output() {
  if (!api_) return;
  auto flushed = std::make_shared<std::promise<void>>();
  auto done = flushed->get_future();
  boost::asio::post(loop_.context(), [this, flushed] {
    api_->after_output_flushed([flushed] { flushed->set_value(); }, std::chrono::seconds(1));
  });
  done.wait_for(std::chrono::seconds(2));  // the loop itself may be stuck
}

MigrationHost Machine::migration_host() {
  return MigrationHost{
      .parts = SnapshotParts{kvm_, vm_, *memory_, vcpus_, *platform_, *pci_},
      .loop = loop_,
      .manual_dirty_protect = manual_dirty_protect_,
      .config = [this] { return machine_vm_config(config_, pci_->offered()); },
      .is_paused = [this] { return paused_; },
      .pause_vcpus = [this] { pause(); },
      .resume_vcpus = [this] { resume(); },
      // Through the loop, behind the final MIGRATION event (run() lets it out).
      .on_migrated =
          [this](const std::string& why) {
            boost::asio::post(loop_.context(), [this, why] { outcome_.report({VmOutcome::Kind::Quit, 0, why}); });
          },
      .emit =
          [this](const std::string& event, const nlohmann::json& data) {
            if (!api_) return;
            api_->emit(event, event == "MIGRATION" ? migration_event_json(data) : data);
          },
  };
}

int Machine::run() {
  if (!config_.incoming.empty()) {
    auto host = migration_host();
    try {
      receive_incoming_migration(config_.incoming, host);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "wren: %s (the guest was not started)\n", e.what());
      return exit_status::kHostFailure;
    }
    pci_->announce_nics();
  }
  serial_->start_input([this](std::span<const uint8_t> bytes) { platform_->serial_input(bytes); });
  pci_->start();
  loop_.start();
  for (auto& r : runners_) r->start();
  const VmOutcome outcome = outcome_.wait();
  for (auto& r : runners_) r->stop();
  for (auto& r : runners_) r->join();
  // QEMU's SHUTDOWN event for an end the guest chose (host ends sent theirs).
  if (api_ && (outcome.kind == VmOutcome::Kind::PowerOff || outcome.kind == VmOutcome::Kind::Reset))
    api_->emit("SHUTDOWN", shutdown_event_json(outcome.kind == VmOutcome::Kind::PowerOff ? ShutdownCause::kGuestShutdown
                                                                                         : ShutdownCause::kGuestReset));
  flush_api_output();
  if (outcome.kind == VmOutcome::Kind::Error)
    std::fprintf(stderr, "%s", outcome.message.c_str());
  else
    spdlog::info("{}", outcome.message);
  return outcome.exit_status;
}

}  // namespace wren
