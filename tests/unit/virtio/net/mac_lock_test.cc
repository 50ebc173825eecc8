// sent_from (virtio/net/mac_lock.h): the source-address check of mac-lock=on.
#include "virtio/net/mac_lock.h"

#include <gtest/gtest.h>

#include "unit/virtio/net/frames.h"

namespace wren {
namespace {

const MacAddress kOwn = test::mac("52:54:00:12:34:56");
const MacAddress kOther = test::mac("52:54:00:99:99:99");

TEST(MacLock, AcceptsOnlyTheOwnSourceAddress) {
  EXPECT_TRUE(sent_from(test::frame_from(kOwn, kOther), kOwn));
  EXPECT_TRUE(sent_from(test::frame_from(kOwn, MacAddress::broadcast()), kOwn));
  EXPECT_FALSE(sent_from(test::frame_from(kOther, kOwn), kOwn)) << "the destination is not the source";
  EXPECT_FALSE(sent_from(test::frame_from(MacAddress::broadcast(), kOther), kOwn));
}

TEST(MacLock, NeedsBothAddresses) {
  const auto frame = test::frame_from(kOwn, kOther);
  const std::span<const uint8_t> bytes(frame);
  EXPECT_TRUE(sent_from(bytes.first(kEthernetAddressesBytes), kOwn)) << "the addresses alone suffice";
  for (size_t len = 0; len < kEthernetAddressesBytes; ++len)
    EXPECT_FALSE(sent_from(bytes.first(len), kOwn)) << len << " bytes";
}

}  // namespace
}  // namespace wren
