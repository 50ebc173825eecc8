#include "virtio/net/mac_address.h"

#include <gtest/gtest.h>

namespace wren {
namespace {

TEST(MacAddress, ParsesAndFormats) {
  auto m = MacAddress::parse("52:54:00:AB:cd:0f");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->bytes, (std::array<uint8_t, 6>{0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f}));
  EXPECT_EQ(m->to_string(), "52:54:00:ab:cd:0f");
  EXPECT_EQ(MacAddress::parse(m->to_string()), m);
}

TEST(MacAddress, RejectsMalformedText) {
  for (const char* bad : {"", "52:54:00:ab:cd", "52:54:00:ab:cd:0f:11", "52-54-00-ab-cd-0f", "52:54:00:ab:cd:0g",
                          "5:254:00:ab:cd:0f", "52:54:00:ab:cd:0f ", " 52:54:00:ab:cd:0f"})
    EXPECT_FALSE(MacAddress::parse(bad)) << bad;
}

TEST(MacAddress, Classes) {
  const auto uni = *MacAddress::parse("52:54:00:00:00:01");
  const auto multi = *MacAddress::parse("01:00:5e:00:00:01");
  const auto bcast = MacAddress::broadcast();
  EXPECT_TRUE(uni.is_unicast());
  EXPECT_FALSE(uni.is_multicast());
  EXPECT_TRUE(uni.is_valid_station());
  EXPECT_TRUE(multi.is_multicast());
  EXPECT_FALSE(multi.is_broadcast());
  EXPECT_TRUE(bcast.is_multicast());
  EXPECT_TRUE(bcast.is_broadcast());
  EXPECT_FALSE(bcast.is_valid_station());
  EXPECT_TRUE(MacAddress{}.is_zero());
  EXPECT_FALSE(MacAddress{}.is_valid_station());
  // Locally administered (bit 1) is still unicast.
  EXPECT_TRUE(MacAddress::parse("02:00:00:00:00:01")->is_unicast());
}

TEST(MacAddress, FromBytesNeedsSixBytes) {
  const uint8_t five[5] = {1, 2, 3, 4, 5};
  EXPECT_FALSE(MacAddress::from_bytes(five));
  const uint8_t seven[7] = {1, 2, 3, 4, 5, 6, 7};
  auto m = MacAddress::from_bytes(seven);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->bytes[5], 6);
}

}  // namespace
}  // namespace wren
