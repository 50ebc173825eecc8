#include "devices/platform/port_sink.h"

#include <gtest/gtest.h>

#include <array>

namespace wren {
namespace {

TEST(PortSink, SwallowsWritesAndReadsAllOnes) {
  PortSink sink;
  std::array<uint8_t, 2> b{0x12, 0x34};
  sink.write(0, b);
  sink.read(0, b);
  EXPECT_EQ(b, (std::array<uint8_t, 2>{0xff, 0xff}));
  EXPECT_EQ(sink.reads(), 1u);
  EXPECT_EQ(sink.writes(), 1u);
}

}  // namespace
}  // namespace wren
