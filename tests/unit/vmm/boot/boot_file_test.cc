#include "vmm/boot/boot_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace wren {
namespace {

class BootFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wren_boot_file_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::remove((dir_ + "/empty").c_str());
    std::remove((dir_ + "/kernel").c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(BootFileTest, ReadsWholeFile) {
  const std::string path = dir_ + "/kernel";
  std::ofstream(path, std::ios::binary) << std::string("\x01\x02\x00\x03", 4);
  auto r = read_boot_file(path, "kernel");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.value(), (std::vector<uint8_t>{1, 2, 0, 3}));
}

TEST_F(BootFileTest, MissingFile) {
  auto r = read_boot_file(dir_ + "/nope", "kernel");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "cannot open kernel file '" + dir_ + "/nope': No such file or directory");
}

TEST_F(BootFileTest, EmptyFile) {
  const std::string path = dir_ + "/empty";
  std::ofstream(path, std::ios::binary).flush();
  auto r = read_boot_file(path, "initrd");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "initrd file '" + path + "' is empty");
}

TEST_F(BootFileTest, Directory) {
  auto r = read_boot_file(dir_, "kernel");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "kernel file '" + dir_ + "' is not a regular file");
}

}  // namespace
}  // namespace wren
