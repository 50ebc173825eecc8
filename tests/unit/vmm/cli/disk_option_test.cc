// --disk parsing: every key, defaults, and the messages for bad values.
#include "vmm/cli/disk_option.h"

#include <gtest/gtest.h>

#include "vmm/cli/cli.h"

namespace wren {
namespace {

DiskConfig ok(const std::string& text) {
  auto r = parse_disk_option(text);
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << text << ": " << *e;
  return std::get_if<DiskConfig>(&r) ? std::get<DiskConfig>(r) : DiskConfig{};
}

std::string error_of(const std::string& text) {
  auto r = parse_disk_option(text);
  auto* e = std::get_if<std::string>(&r);
  return e ? *e : "";
}

TEST(DiskOption, Defaults) {
  const DiskConfig d = ok("path=/var/lib/disk.img");
  EXPECT_EQ(d.path, "/var/lib/disk.img");
  EXPECT_FALSE(d.read_only);
  EXPECT_TRUE(d.serial.empty());
  EXPECT_FALSE(d.transitional);
  EXPECT_EQ(d.queues, 1);
  EXPECT_FALSE(d.direct);
}

TEST(DiskOption, EveryKey) {
  const DiskConfig d = ok("path=a.img,readonly=on,serial=SN-1,transport=transitional,queues=4,cache=none");
  EXPECT_EQ(d.path, "a.img");
  EXPECT_TRUE(d.read_only);
  EXPECT_EQ(d.serial, "SN-1");
  EXPECT_TRUE(d.transitional);
  EXPECT_EQ(d.queues, 4);
  EXPECT_TRUE(d.direct);
  EXPECT_FALSE(ok("path=a,readonly=off,cache=writeback,transport=modern").read_only);
}

TEST(DiskOption, BadValuesSayWhat) {
  EXPECT_NE(error_of("readonly=on").find("path=FILE is required"), std::string::npos);
  EXPECT_NE(error_of("path=").find("path"), std::string::npos);
  EXPECT_NE(error_of("path=a,readonly=yes").find("readonly must be on or off"), std::string::npos);
  EXPECT_NE(error_of("path=a,queues=0").find("queues must be 1 to 16"), std::string::npos);
  EXPECT_NE(error_of("path=a,queues=17").find("queues"), std::string::npos);
  EXPECT_NE(error_of("path=a,queues=2x").find("queues"), std::string::npos);
  EXPECT_NE(error_of("path=a,cache=directsync").find("cache must be writeback or none"), std::string::npos);
  EXPECT_NE(error_of("path=a,transport=mmio").find("transport"), std::string::npos);
  EXPECT_NE(error_of("path=a,serial=012345678901234567890").find("at most 20"), std::string::npos);
  EXPECT_NE(error_of("path=a,format=qcow2").find("unknown key 'format'"), std::string::npos);
  EXPECT_NE(error_of("path=a,path=b").find("--disk"), std::string::npos);
}

TEST(DiskOption, RepeatableOnTheCommandLine) {
  std::vector<std::string> args = {"wren",   "run",        "--kernel", "/proc/self/exe",
                                   "--disk", "path=a.img", "--disk",   "path=b.img,readonly=on"};
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  auto r = parse_command_line(static_cast<int>(argv.size()), argv.data());
  auto* cfg = std::get_if<RunConfig>(&r);
  ASSERT_NE(cfg, nullptr);
  ASSERT_EQ(cfg->disks.size(), 2u);
  EXPECT_EQ(cfg->disks[0].path, "a.img");
  EXPECT_TRUE(cfg->disks[1].read_only);

  args.push_back("--disk");
  args.push_back("path=c,queues=99");
  argv.clear();
  for (auto& a : args) argv.push_back(a.c_str());
  r = parse_command_line(static_cast<int>(argv.size()), argv.data());
  auto* exit = std::get_if<CliExit>(&r);
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(exit->status, 2);
  EXPECT_NE(exit->message.find("queues"), std::string::npos);
}

}  // namespace
}  // namespace wren
