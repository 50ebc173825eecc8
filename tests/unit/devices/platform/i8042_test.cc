#include "devices/platform/i8042.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>

#include "hypervisor/layout.h"

namespace wren {
namespace {

class I8042Test : public ::testing::Test {
 protected:
  std::shared_ptr<I8042> kbc = std::make_shared<I8042>([this] { ++resets; });
  int resets = 0;

  // Issues a command and returns the response byte, checking OBF on the way.
  uint8_t command_with_response(uint8_t cmd) {
    kbc->write_command(cmd);
    EXPECT_EQ(kbc->read_status() & 0x01, 0x01) << "no response to command " << int(cmd);
    uint8_t v = kbc->read_data();
    EXPECT_EQ(kbc->read_status() & 0x01, 0x00);
    return v;
  }
};

TEST_F(I8042Test, StatusIsZeroWithNoData) { EXPECT_EQ(kbc->read_status(), 0x00); }

TEST_F(I8042Test, SelfTestAnswers55) { EXPECT_EQ(command_with_response(0xaa), 0x55); }

TEST_F(I8042Test, ResetPulseCommandInvokesCallback) {
  kbc->write_command(0xfe);
  EXPECT_EQ(resets, 1);
  kbc->write_command(0xff);  // pulses nothing
  EXPECT_EQ(resets, 1);
  kbc->write_command(0xf0);  // bit 0 clear: pulses reset too
  EXPECT_EQ(resets, 2);
  EXPECT_EQ(kbc->reset_requests(), 2u);
}

TEST_F(I8042Test, OutputPortWriteWithBit0ClearResets) {
  kbc->write_command(0xd1);
  kbc->write_data(0x03);  // A20 on, not in reset
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(command_with_response(0xd0), 0x03);
  kbc->write_command(0xd1);
  kbc->write_data(0x02);
  EXPECT_EQ(resets, 1);
}

TEST_F(I8042Test, ControlRegisterReadWrite) {
  uint8_t first = command_with_response(0x20);
  EXPECT_EQ(command_with_response(0x20), first);  // Linux reads until two agree
  kbc->write_command(0x60);
  kbc->write_data(0x47);
  EXPECT_EQ(command_with_response(0x20), 0x47);
  EXPECT_EQ(kbc->read_status(), 0x00);
}

TEST_F(I8042Test, PortEnableDisableToggleControlBits) {
  kbc->write_command(0x60);
  kbc->write_data(0x00);
  kbc->write_command(0xa7);
  EXPECT_EQ(command_with_response(0x20), 0x20);
  kbc->write_command(0xad);
  EXPECT_EQ(command_with_response(0x20), 0x30);
  kbc->write_command(0xa8);
  EXPECT_EQ(command_with_response(0x20), 0x10);
  kbc->write_command(0xae);
  EXPECT_EQ(command_with_response(0x20), 0x00);
}

TEST_F(I8042Test, AuxProbeFailsFast) {
  // AUX loop: the echo arrives without AUXDATA, which Linux rejects.
  kbc->write_command(0xd3);
  kbc->write_data(0x5a);
  EXPECT_EQ(kbc->read_status() & 0x21, 0x01);
  // AUX interface test reports a stuck clock: no mouse.
  uint8_t result = command_with_response(0xa9);
  EXPECT_NE(result, 0x00);
  EXPECT_NE(result, 0xfa);
  EXPECT_NE(result, 0xff);
  EXPECT_EQ(command_with_response(0xab), 0x00);  // keyboard interface fine
}

TEST_F(I8042Test, KeyboardBytesWithoutACommandAreDropped) {
  kbc->write_data(0xf2);
  EXPECT_EQ(kbc->read_status(), 0x00);
  EXPECT_EQ(resets, 0);
}

TEST_F(I8042Test, BusViewsRouteToPorts) {
  IoBus bus;
  ASSERT_TRUE(insert_i8042(bus, kbc));
  std::array<uint8_t, 1> b{0xaa};
  ASSERT_TRUE(bus.write(layout::kPortI8042Cmd, b));
  ASSERT_TRUE(bus.read(layout::kPortI8042Cmd, b));
  EXPECT_EQ(b[0], 0x01);
  ASSERT_TRUE(bus.read(layout::kPortI8042Data, b));
  EXPECT_EQ(b[0], 0x55);
  b[0] = 0xfe;
  ASSERT_TRUE(bus.write(layout::kPortI8042Cmd, b));
  EXPECT_EQ(resets, 1);
  EXPECT_FALSE(bus.read(layout::kPortI8042Data + 1, b));  // 0x61 is not ours
  // A second insertion fails and leaves the first intact.
  EXPECT_FALSE(insert_i8042(bus, kbc));
  EXPECT_TRUE(bus.read(layout::kPortI8042Data, b));
}

TEST_F(I8042Test, SaveRestoreRoundTripAndValidation) {
  kbc->write_command(0x60);
  kbc->write_data(0x21);
  kbc->write_command(0xd1);  // pending: waits for its data byte
  auto s = kbc->save();
  EXPECT_EQ(s.pending_command, 0xd1);
  I8042 other([] {});
  ASSERT_TRUE(other.restore(s));
  auto s2 = other.save();
  EXPECT_EQ(s2.control, 0x21);
  EXPECT_EQ(s2.pending_command, 0xd1);
  EXPECT_EQ(s2.output_port, s.output_port);
  EXPECT_EQ(s2.output_full, s.output_full);

  auto bad = s;
  bad.pending_command = 0xaa;  // takes no data byte
  EXPECT_FALSE(other.restore(bad));
  bad = s;
  bad.output_full = false;
  bad.output_from_aux = true;
  EXPECT_FALSE(other.restore(bad));
  EXPECT_EQ(other.save().pending_command, 0xd1);  // unchanged by refusals
}

}  // namespace
}  // namespace wren
