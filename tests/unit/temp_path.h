#pragma once
// ctest runs each test case as its own process, several at once: a fixed
// temporary name would be shared (and overwritten) by concurrent cases. So
// each process gets its own directory, removed when the process exits.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace wren {

inline std::string process_temp_path(const std::string& name) {
  struct ProcessDir {
    std::filesystem::path path;
    ProcessDir() {
      std::string pattern = ::testing::TempDir() + "/wren-test-XXXXXX";
      if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
      path = pattern;
    }
    ~ProcessDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const ProcessDir dir;
  return (dir.path / name).string();
}

}  // namespace wren
