#pragma once
// ctest runs each test case as its own process, several at once: a fixed
// temporary name would be shared (and overwritten) by concurrent cases.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace wren {

inline std::string process_temp_path(const std::string& name) {
  return ::testing::TempDir() + "/wren-" + std::to_string(::getpid()) + "-" + name;
}

}  // namespace wren
