// `wren run --restore FILE` and `wren snapshot inspect FILE`: parsing and
// the inspect command's error path (no guest needed).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "parse_args.h"
#include "unit/temp_path.h"
#include "vmm/cli/cli.h"
#include "vmm/migration/snapshot_io.h"

namespace wren {
namespace {

std::string temp_file(const std::string& name, const std::string& contents) {
  const std::string path = process_temp_path(name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(SnapshotCli, RestoreMakesKernelOptional) {
  const auto snap = temp_file("snapshot_cli_restore.snap", "x");
  auto r = parse_args({"run", "--restore", snap, "--memory", "256M", "--cpus", "2"});
  auto* cfg = std::get_if<RunConfig>(&r);
  ASSERT_NE(cfg, nullptr);
  EXPECT_EQ(cfg->restore, snap);
  EXPECT_TRUE(cfg->kernel.empty());
  EXPECT_EQ(cfg->memory_bytes, 256ull << 20);
  EXPECT_EQ(cfg->cpus, 2u);
}

TEST(SnapshotCli, KernelOrRestoreIsRequired) {
  auto r = parse_args({"run", "--memory", "256M"});
  auto* e = std::get_if<CliExit>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, 2);
  EXPECT_NE(e->message.find("--kernel is required (or --restore FILE"), std::string::npos) << e->message;
}

TEST(SnapshotCli, FirmwareBootsWithoutKernelButNotFromASnapshotOrMigration) {
  const std::string bios = temp_file("cli_bios.bin", "x");
  auto r = parse_args({"run", "--firmware", bios});
  auto* cfg = std::get_if<RunConfig>(&r);
  ASSERT_NE(cfg, nullptr);
  EXPECT_EQ(cfg->firmware, bios);
  EXPECT_TRUE(cfg->kernel.empty());

  const std::string snap = temp_file("cli_fw.snap", "x");
  r = parse_args({"run", "--firmware", bios, "--restore", snap});
  auto* e = std::get_if<CliExit>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, 2);
  EXPECT_NE(e->message.find("--firmware and --restore cannot be combined"), std::string::npos) << e->message;

  r = parse_args({"run", "--firmware", bios, "--incoming", "tcp:127.0.0.1:4444"});
  e = std::get_if<CliExit>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, 2);
  EXPECT_NE(e->message.find("--firmware and --incoming cannot be combined"), std::string::npos) << e->message;
}

TEST(SnapshotCli, FirmwareTakesOneInitrdFileNotAModuleList) {
  const std::string bios = temp_file("cli_bios2.bin", "x");
  const std::string kernel = temp_file("cli_fw_kernel", "x");
  const std::string module = temp_file("cli_fw_module", "x");
  auto r = parse_args({"run", "--firmware", bios, "--kernel", kernel, "--initrd", module + "," + module});
  auto* e = std::get_if<CliExit>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, 2);
  EXPECT_NE(e->message.find("with --firmware it is one file"), std::string::npos) << e->message;

  r = parse_args({"run", "--firmware", bios, "--kernel", kernel, "--initrd", module});
  auto* cfg = std::get_if<RunConfig>(&r);
  ASSERT_NE(cfg, nullptr);
  EXPECT_EQ(cfg->initrd, module);
}

TEST(SnapshotCli, RestoreFileMustExist) {
  auto r = parse_args({"run", "--restore", "/nonexistent/x.snap"});
  auto* e = std::get_if<CliExit>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, 2);
  EXPECT_NE(e->message.find("/nonexistent/x.snap"), std::string::npos) << e->message;
}

TEST(SnapshotCli, PlainRunHasNoRestore) {
  const auto kernel = temp_file("snapshot_cli_kernel", "x");
  auto r = parse_args({"run", "--kernel", kernel});
  auto* cfg = std::get_if<RunConfig>(&r);
  ASSERT_NE(cfg, nullptr);
  EXPECT_TRUE(cfg->restore.empty());
}

TEST(SnapshotCli, InspectParses) {
  auto r = parse_args({"snapshot", "inspect", "/tmp/some.snap"});
  auto* cmd = std::get_if<SnapshotInspectCommand>(&r);
  ASSERT_NE(cmd, nullptr);
  EXPECT_EQ(cmd->path, "/tmp/some.snap");
}

TEST(SnapshotCli, InspectNeedsAFile) {
  auto r = parse_args({"snapshot", "inspect"});
  auto* e = std::get_if<CliExit>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, 2);
}

TEST(SnapshotCli, SnapshotNeedsASubcommand) {
  auto r = parse_args({"snapshot"});
  ASSERT_NE(std::get_if<CliExit>(&r), nullptr);
}

TEST(SnapshotInspect, CorruptFileIsAnError) {
  const auto path = temp_file("snapshot_cli_corrupt.snap", std::string(64, '\x5a'));
  ::testing::internal::CaptureStderr();
  const int status = inspect_snapshot_command(path);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1);
  EXPECT_NE(err.find("snapshot inspect '" + path + "'"), std::string::npos) << err;
}

TEST(SnapshotInspect, MissingFileIsAnError) {
  ::testing::internal::CaptureStderr();
  const int status = inspect_snapshot_command("/nonexistent/x.snap");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1);
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace wren
