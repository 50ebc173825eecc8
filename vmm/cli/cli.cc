#include "vmm/cli/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <regex>
#include <string_view>

#include "vmm/api/wren_version.h"
#include "vmm/boot/multiboot.h"
#include "vmm/cli/disk_option.h"
#include "vmm/cli/key_value_list.h"
#include "vmm/cli/size_parse.h"
#include "vmm/machine/exit_status.h"

namespace wren {

namespace {

constexpr uint64_t kMinMemory = 32ull << 20;
constexpr uint64_t kMaxMemory = 1ull << 40;
constexpr uint32_t kMaxCpus = 64;
constexpr uint16_t kMaxQueuePairs = 8;

template <typename T>
bool parse_number(const std::string& s, T& out) {
  int base = 10;
  std::string_view v = s;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    base = 16;
    v.remove_prefix(2);
  }
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  return ec == std::errc() && p == v.data() + v.size();
}

bool parse_on_off(const std::string& s, bool& out) {
  if (s == "on") return out = true, true;
  if (s == "off") return out = false, true;
  return false;
}

std::optional<std::string> validate_memory(uint64_t bytes) {
  if (bytes < kMinMemory) return "--memory must be at least 32M";
  if (bytes > kMaxMemory) return "--memory must be at most 1T";
  if (bytes % (1ull << 20)) return "--memory must be a whole number of MiB";
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0 && bytes > static_cast<uint64_t>(pages) * static_cast<uint64_t>(page))
    return "--memory " + std::to_string(bytes >> 20) + "M is more than this host's RAM (" +
           std::to_string((static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)) >> 20) + "M)";
  return std::nullopt;
}

// One existing file, or a multiboot module list whose every path exists.
CLI::Validator initrd_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (CLI::ExistingFile(text).empty()) return {};
        auto modules = multiboot::parse_module_list(text);
        if (!modules) return modules.error();
        for (const auto& m : modules.value())
          if (auto err = CLI::ExistingFile(m.path); !err.empty()) return err;
        return {};
      },
      "FILE or MODULE LIST");
}

// `wren` alone: one line per subcommand.
std::string subcommand_list(CLI::App& app) {
  std::string out = "wren " + wren_version_string() + ": a small KVM virtual machine monitor\n\nSubcommands:\n";
  for (const auto* sub : app.get_subcommands({})) {
    std::string name = sub->get_name();
    name.resize(std::max<size_t>(name.size(), 10), ' ');
    out += "  " + name + sub->get_description() + "\n";
  }
  return out + "\n'wren SUBCOMMAND --help' describes one; 'wren --version' prints the version.";
}

}  // namespace

std::variant<NetConfig, std::string> parse_net_option(const std::string& text) {
  auto kv = parse_key_value_list(text);
  if (auto* err = std::get_if<std::string>(&kv)) return "--net: " + *err;
  NetConfig net;
  static const std::regex mac_re("^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$");
  for (const auto& [key, value] : std::get<KeyValueList>(kv)) {
    if (key == "tap") {
      if (value.empty() || value.size() >= 16) return "--net: tap name must be 1 to 15 characters";
      net.tap = value;
    } else if (key == "mac") {
      if (!std::regex_match(value, mac_re)) return "--net: mac '" + value + "' is not of the form 52:54:00:12:34:56";
      if (std::stoi(value.substr(0, 2), nullptr, 16) & 1) return "--net: mac '" + value + "' is a multicast address";
      net.mac = value;
    } else if (key == "queues") {
      if (!parse_number(value, net.queue_pairs) || net.queue_pairs < 1 || net.queue_pairs > kMaxQueuePairs)
        return "--net: queues must be 1 to " + std::to_string(kMaxQueuePairs);
    } else if (key == "transport") {
      if (value == "modern")
        net.transitional = false;
      else if (value == "transitional")
        net.transitional = true;
      else
        return "--net: transport must be modern or transitional";
    } else if (key == "mac-change") {
      if (!parse_on_off(value, net.mac_change)) return "--net: mac-change must be on or off";
    } else if (key == "mac-lock") {
      if (!parse_on_off(value, net.mac_lock)) return "--net: mac-lock must be on or off";
    } else {
      return "--net: unknown key '" + key + "' (known: tap, mac, queues, transport, mac-change, mac-lock)";
    }
  }
  if (net.tap.empty()) return std::string("--net: tap=NAME is required");
  return net;
}

std::variant<SerialConfig, std::string> parse_serial_option(const std::string& text) {
  SerialConfig s;
  if (text == "stdio")
    s.kind = SerialConfig::Kind::Stdio;
  else if (text == "none")
    s.kind = SerialConfig::Kind::None;
  else if (text.rfind("file:", 0) == 0 && text.size() > 5)
    s = {SerialConfig::Kind::File, text.substr(5)};
  else if (text.rfind("unix:", 0) == 0 && text.size() > 5)
    s = {SerialConfig::Kind::Unix, text.substr(5)};
  else
    return "--serial must be stdio, none, file:PATH or unix:PATH (got '" + text + "')";
  return s;
}

std::variant<TestExitConfig, std::string> parse_test_exit_option(const std::string& text) {
  auto kv = parse_key_value_list(text);
  if (auto* err = std::get_if<std::string>(&kv)) return "--test-exit: " + *err;
  TestExitConfig t;
  for (const auto& [key, value] : std::get<KeyValueList>(kv)) {
    if (key == "iobase") {
      if (!parse_number(value, t.iobase)) return "--test-exit: iobase must be a port number such as 0xf4";
    } else if (key == "iosize") {
      if (!parse_number(value, t.iosize) || !(t.iosize == 1 || t.iosize == 2 || t.iosize == 4))
        return "--test-exit: iosize must be 1, 2 or 4";
    } else {
      return "--test-exit: unknown key '" + key + "' (known: iobase, iosize)";
    }
  }
  return t;
}

Command parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"Wren: a small KVM virtual machine monitor", "wren"};
  app.require_subcommand(1);
  RunConfig cfg;
  std::string memory = "512M", serial = "stdio", test_exit;
  std::vector<std::string> nets, disks;

  auto* run = app.add_subcommand("run", "Boot a guest");
  run->add_option("--kernel", cfg.kernel, "Linux bzImage or multiboot kernel to boot (required unless --restore)")
      ->check(CLI::ExistingFile);
  run->add_option("--restore", cfg.restore, "Continue the snapshot FILE instead of booting a kernel")
      ->check(CLI::ExistingFile);
  run->add_option("--incoming", cfg.incoming, "Wait for a live migration on tcp:ADDR:PORT instead of booting a kernel");
  run->add_option("--firmware", cfg.firmware,
                  "Boot this BIOS image (e.g. SeaBIOS) from the reset vector; --kernel is then loaded through fw_cfg")
      ->check(CLI::ExistingFile);
  run->add_option("--initrd", cfg.initrd, "Initial ramdisk, or multiboot modules: PATH[ ARGS][,PATH[ ARGS]...]")
      ->check(initrd_validator());
  run->add_option("--cmdline", cfg.cmdline, "Kernel command line");
  run->add_option("--memory", memory, "Guest RAM, e.g. 512M or 2G")->capture_default_str();
  run->add_option("--cpus", cfg.cpus, "Number of vCPUs")->capture_default_str()->check(CLI::Range(1u, kMaxCpus));
  run->add_option("--cpu-model", cfg.cpu_model, "CPU model: host or baseline")->capture_default_str();
  run->add_option("--serial", serial, "Serial console: stdio, none, file:PATH, unix:PATH")->capture_default_str();
  run->add_option(
      "--net", nets,
      "NIC: tap=NAME[,mac=MAC][,queues=N][,transport=modern|transitional][,mac-change=on|off][,mac-lock=on|off]");
  run->add_option("--disk", disks, kDiskOptionHelp);
  std::string api;
  run->add_option("--api", api, "Control socket: unix:PATH");
  run->add_option("--test-exit", test_exit, "isa-debug-exit device: iobase=0xf4[,iosize=1]");
  run->add_flag("--pc-testdev", cfg.pc_testdev,
                "QEMU pc-testdev: data register and flush-page at 0xe0-0xeb, IRQ lines at 0x2000-0x2017, 64 KiB MMIO "
                "at 0xff000000 (guest test suites)");
  run->add_option("--kvm", cfg.kvm_device, "KVM device node")->capture_default_str();

  auto* snapshot = app.add_subcommand("snapshot", "Work with snapshot files");
  snapshot->require_subcommand(1);
  SnapshotInspectCommand inspect;
  auto* inspect_cmd = snapshot->add_subcommand("inspect", "Print a snapshot file as JSON");
  inspect_cmd->add_option("FILE", inspect.path, "Snapshot file")->required();

  MigrateCommand migrate;
  std::string migrate_api;
  auto* migrate_cmd = app.add_subcommand("migrate", "Live-migrate the guest of a running wren to another host");
  migrate_cmd->add_option("--api", migrate_api, "Control socket of the source wren: unix:PATH")->required();
  migrate_cmd->add_option("--downtime-ms", migrate.downtime_ms, "Downtime budget for the final stop-and-copy")
      ->capture_default_str()
      ->check(CLI::Range(1u, 60000u));
  migrate_cmd
      ->add_option("--timeout", migrate.timeout_s, "Cancel (never force) a migration still running after S seconds")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  migrate_cmd->add_option("--max-bandwidth", migrate.max_bandwidth_mbps, "Bandwidth cap in MB/s (0: none)")
      ->capture_default_str();
  migrate_cmd->add_option("URI", migrate.uri, "Destination: tcp:HOST:PORT (a wren started with --incoming)")
      ->required();

  if (argc == 2 && std::string_view(argv[1]) == "--version") return CliExit{0, "wren " + wren_version_string()};
  if (argc <= 1) return CliExit{0, subcommand_list(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return CliExit{0, app.help("", CLI::AppFormatMode::All)};
    return CliExit{exit_status::kUsage, std::string("wren: ") + e.what() + "\nRun 'wren run --help' for usage."};
  }
  auto fail = [](std::string msg) { return CliExit{exit_status::kUsage, "wren: " + msg}; };
  if (inspect_cmd->parsed()) return inspect;
  if (migrate_cmd->parsed()) {
    if (migrate_api.rfind("unix:", 0) != 0 || migrate_api.size() <= 5) return fail("--api must be unix:PATH");
    if (migrate.uri.rfind("tcp:", 0) != 0) return fail("migrate: the destination must be tcp:HOST:PORT");
    migrate.api_path = migrate_api.substr(5);
    return migrate;
  }

  const int starts = !cfg.kernel.empty() + !cfg.restore.empty() + !cfg.incoming.empty() + !cfg.firmware.empty();
  if (starts == 0)
    return fail("--kernel is required (or --restore FILE, --incoming tcp:ADDR:PORT, or --firmware PATH)");
  if (!cfg.restore.empty() && !cfg.incoming.empty()) return fail("--restore and --incoming exclude each other");
  if (!cfg.firmware.empty() && !cfg.restore.empty()) return fail("--firmware and --restore cannot be combined");
  if (!cfg.firmware.empty() && !cfg.incoming.empty()) return fail("--firmware and --incoming cannot be combined");
  if (!cfg.firmware.empty() && !cfg.initrd.empty() && !CLI::ExistingFile(cfg.initrd).empty())
    return fail("--initrd: with --firmware it is one file (fw_cfg carries one initrd, not a module list)");
  if (!cfg.incoming.empty() && cfg.incoming.rfind("tcp:", 0) != 0)
    return fail("--incoming must be tcp:ADDR:PORT (got '" + cfg.incoming + "')");

  auto size = parse_size(memory);
  if (!size.bytes) return fail("--memory: " + size.error);
  if (auto err = validate_memory(*size.bytes)) return fail(*err);
  cfg.memory_bytes = *size.bytes;

  if (cfg.cpu_model != "host" && cfg.cpu_model != "baseline")
    return fail("--cpu-model must be host or baseline (got '" + cfg.cpu_model + "')");

  auto s = parse_serial_option(serial);
  if (auto* err = std::get_if<std::string>(&s)) return fail(*err);
  cfg.serial = std::get<SerialConfig>(s);

  for (const auto& n : nets) {
    auto parsed = parse_net_option(n);
    if (auto* err = std::get_if<std::string>(&parsed)) return fail(*err);
    cfg.nets.push_back(std::get<NetConfig>(parsed));
  }
  for (const auto& d : disks) {
    auto parsed = parse_disk_option(d);
    if (auto* err = std::get_if<std::string>(&parsed)) return fail(*err);
    cfg.disks.push_back(std::get<DiskConfig>(parsed));
  }
  if (!api.empty()) {
    if (api.rfind("unix:", 0) != 0 || api.size() <= 5) return fail("--api must be unix:PATH");
    cfg.api_socket = api.substr(5);
  }
  if (!test_exit.empty()) {
    auto t = parse_test_exit_option(test_exit);
    if (auto* err = std::get_if<std::string>(&t)) return fail(*err);
    cfg.test_exit = std::get<TestExitConfig>(t);
  }
  return cfg;
}

}  // namespace wren
