#include "migrate/crc32c.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace wren::migrate {
namespace {

std::span<const uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c(bytes("")), 0u);
  EXPECT_EQ(crc32c(bytes("123456789")), 0xe3069283u);  // the standard check value
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros), 0x8a9136aau);  // RFC 3720 B.4
  std::vector<uint8_t> ones(32, 0xff);
  EXPECT_EQ(crc32c(ones), 0x62a8ab43u);
}

TEST(Crc32c, ExtendEqualsWholeAtEverySplit) {
  std::vector<uint8_t> data(100);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 1);
  const uint32_t whole = crc32c(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    const std::span<const uint8_t> all(data);
    EXPECT_EQ(crc32c_extend(crc32c(all.first(split)), all.subspan(split)), whole) << split;
  }
}

}  // namespace
}  // namespace wren::migrate
