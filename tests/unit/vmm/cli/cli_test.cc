#include "vmm/cli/cli.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "unit/temp_path.h"
#include "vmm/api/wren_version.h"
#include "vmm/cli/size_parse.h"

namespace wren {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = process_temp_path("cli_test_kernel");
    std::ofstream(kernel_) << "x";
  }
  Command parse(std::vector<std::string> extra) {
    std::vector<std::string> args = {"wren", "run", "--kernel", kernel_};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
  }
  std::string error_of(std::vector<std::string> extra) {
    auto r = parse(std::move(extra));
    auto* e = std::get_if<CliExit>(&r);
    return e ? e->message : "";
  }
  std::string kernel_;
};

TEST(SizeParse, Suffixes) {
  EXPECT_EQ(parse_size("512M").bytes, 512ull << 20);
  EXPECT_EQ(parse_size("2G").bytes, 2ull << 30);
  EXPECT_EQ(parse_size("2GiB").bytes, 2ull << 30);
  EXPECT_EQ(parse_size("4096").bytes, 4096u);
  EXPECT_EQ(parse_size("64k").bytes, 64u << 10);
  EXPECT_FALSE(parse_size("").bytes);
  EXPECT_FALSE(parse_size("12Q").bytes);
  EXPECT_FALSE(parse_size("M").bytes);
  EXPECT_FALSE(parse_size("-1G").bytes);
  EXPECT_FALSE(parse_size("99999999999T").bytes);
}

TEST_F(CliTest, Defaults) {
  auto r = parse({});
  ASSERT_TRUE(std::holds_alternative<RunConfig>(r));
  const auto& c = std::get<RunConfig>(r);
  EXPECT_EQ(c.memory_bytes, 512ull << 20);
  EXPECT_EQ(c.cpus, 1u);
  EXPECT_EQ(c.serial.kind, SerialConfig::Kind::Stdio);
  EXPECT_FALSE(c.pc_testdev);
  EXPECT_FALSE(c.test_exit);
}

TEST_F(CliTest, PcTestdevIsAFlag) {
  auto r = parse({"--pc-testdev"});
  ASSERT_TRUE(std::holds_alternative<RunConfig>(r));
  EXPECT_TRUE(std::get<RunConfig>(r).pc_testdev);
}

TEST_F(CliTest, FullOptions) {
  auto r = parse({"--memory", "1G", "--cpus", "2", "--serial", "file:/tmp/x", "--net",
                  "tap=tap0,mac=52:54:00:12:34:56,queues=2,transport=transitional,mac-change=on,mac-lock=on", "--api",
                  "unix:/tmp/api", "--test-exit", "iobase=0xf4,iosize=4"});
  ASSERT_TRUE(std::holds_alternative<RunConfig>(r)) << std::get<CliExit>(r).message;
  const auto& c = std::get<RunConfig>(r);
  EXPECT_EQ(c.memory_bytes, 1ull << 30);
  EXPECT_EQ(c.cpus, 2u);
  EXPECT_EQ(c.serial.path, "/tmp/x");
  ASSERT_EQ(c.nets.size(), 1u);
  EXPECT_EQ(c.nets[0].tap, "tap0");
  EXPECT_EQ(c.nets[0].mac, "52:54:00:12:34:56");
  EXPECT_EQ(c.nets[0].queue_pairs, 2);
  EXPECT_TRUE(c.nets[0].transitional);
  EXPECT_TRUE(c.nets[0].mac_change);
  EXPECT_TRUE(c.nets[0].mac_lock);
  EXPECT_EQ(c.api_socket, "/tmp/api");
  EXPECT_EQ(c.test_exit->iobase, 0xf4);
  EXPECT_EQ(c.test_exit->iosize, 4);
}

TEST_F(CliTest, ClearErrors) {
  EXPECT_NE(error_of({"--memory", "1M"}).find("at least 32M"), std::string::npos);
  EXPECT_NE(error_of({"--memory", "100000G"}).find("at most 1T"), std::string::npos);
  EXPECT_NE(error_of({"--memory", "lots"}).find("invalid size"), std::string::npos);
  EXPECT_NE(error_of({"--cpus", "0"}).find("cpus"), std::string::npos);
  EXPECT_NE(error_of({"--serial", "tcp:1"}).find("--serial must be"), std::string::npos);
  EXPECT_NE(error_of({"--net", "mac=52:54:00:12:34:56"}).find("tap=NAME is required"), std::string::npos);
  EXPECT_NE(error_of({"--net", "tap=t,mac=01:00:5e:00:00:01"}).find("multicast"), std::string::npos);
  EXPECT_NE(error_of({"--net", "tap=t,queues=0"}).find("queues must be"), std::string::npos);
  EXPECT_NE(error_of({"--net", "tap=t,bogus=1"}).find("unknown key 'bogus'"), std::string::npos);
  EXPECT_NE(error_of({"--net", "tap=t,mac-lock=yes"}).find("mac-lock must be on or off"), std::string::npos);
  EXPECT_NE(error_of({"--net", "tap=t,tap=u"}).find("given twice"), std::string::npos);
  EXPECT_NE(error_of({"--cpu-model", "pentium"}).find("host or baseline"), std::string::npos);
  EXPECT_NE(error_of({"--api", "tcp:1"}).find("unix:PATH"), std::string::npos);
  EXPECT_NE(error_of({"--test-exit", "iosize=3"}).find("iosize"), std::string::npos);
}

TEST_F(CliTest, InitrdIsAFileOrAMultibootModuleList) {
  auto r = parse({"--initrd", kernel_});
  ASSERT_TRUE(std::holds_alternative<RunConfig>(r));
  EXPECT_EQ(std::get<RunConfig>(r).initrd, kernel_);

  const std::string list = kernel_ + " arg=1," + kernel_;
  r = parse({"--initrd", list});
  ASSERT_TRUE(std::holds_alternative<RunConfig>(r)) << error_of({"--initrd", list});
  EXPECT_EQ(std::get<RunConfig>(r).initrd, list);

  EXPECT_NE(error_of({"--initrd", "/nonexistent/initrd"}).find("/nonexistent/initrd"), std::string::npos);
  EXPECT_NE(error_of({"--initrd", kernel_ + ",/nonexistent/mod x"}).find("/nonexistent/mod"), std::string::npos);
  EXPECT_NE(error_of({"--initrd", kernel_ + ","}).find("empty entry"), std::string::npos);
}

TEST(Cli, MissingKernelFileIsAnError) {
  const char* argv[] = {"wren", "run", "--kernel", "/nonexistent/bzImage"};
  auto r = parse_command_line(4, argv);
  ASSERT_TRUE(std::holds_alternative<CliExit>(r));
  EXPECT_EQ(std::get<CliExit>(r).status, 2);
  EXPECT_NE(std::get<CliExit>(r).message.find("/nonexistent/bzImage"), std::string::npos);
}

}  // namespace
}  // namespace wren

namespace wren {
namespace {

CliExit exit_of(std::vector<const char*> argv) {
  auto r = parse_command_line(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(std::holds_alternative<CliExit>(r));
  return std::holds_alternative<CliExit>(r) ? std::get<CliExit>(r) : CliExit{-1, ""};
}

TEST(Cli, VersionFlagPrintsTheVersion) {
  const auto e = exit_of({"wren", "--version"});
  EXPECT_EQ(e.status, 0);
  EXPECT_EQ(e.message, "wren " + wren_version_string());
}

TEST(Cli, NoArgumentsListsEverySubcommandOnOneLine) {
  const auto e = exit_of({"wren"});
  EXPECT_EQ(e.status, 0);
  for (const char* sub : {"run", "snapshot", "migrate"}) {
    const auto at = e.message.find(std::string("\n  ") + sub + " ");
    ASSERT_NE(at, std::string::npos) << sub << " missing from:\n" << e.message;
    const auto eol = e.message.find('\n', at + 1);
    EXPECT_GT(eol - at, std::string(sub).size() + 8) << "no description for " << sub;
  }
  EXPECT_NE(e.message.find("Boot a guest"), std::string::npos);
}

}  // namespace
}  // namespace wren
