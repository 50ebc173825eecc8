#pragma once
// Assertions on what a restore took from golden_machine::payloads().
#include <gtest/gtest.h>

#include "golden_machine.h"

namespace wren::migrate::golden_machine {

// Everything taken is exactly what payloads() saved.
inline void expect_golden(const Taken& t) {
  EXPECT_TRUE(t.vcpu == golden::vcpu());
  EXPECT_TRUE(t.vm == golden::vm());
  EXPECT_EQ(encode_state(t.uart, 1), encode_state(golden::uart(), 1));
  EXPECT_EQ(encode_state(t.pci, 1), encode_state(golden::virtio_pci(), 1));
  EXPECT_EQ(t.net, net_device());
}

}  // namespace wren::migrate::golden_machine
