#include "devices/platform/uart16550.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <thread>
#include <vector>

#include "unit/devices/platform/fake_irq_line.h"

namespace wren {
namespace {

using testing::FakeIrqLine;

// Register offsets as a driver sees them.
constexpr uint64_t kRbr = 0, kThr = 0, kDll = 0, kIer = 1, kDlm = 1, kIir = 2, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5,
                   kMsr = 6, kScr = 7;

class UartTest : public ::testing::Test {
 protected:
  Uart16550 uart{&irq, [this](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }};

  uint8_t in(uint64_t reg) {
    std::array<uint8_t, 1> b{};
    uart.read(reg, b);
    return b[0];
  }
  void outb(uint64_t reg, uint8_t v) {
    std::array<uint8_t, 1> b{v};
    uart.write(reg, b);
  }
  void push(std::vector<uint8_t> bytes) { uart.push_input(bytes); }

  FakeIrqLine irq;
  std::vector<uint8_t> out;
};

TEST_F(UartTest, ResetValues) {
  EXPECT_EQ(in(kIer), 0);
  EXPECT_EQ(in(kIir), 0x01);  // no interrupt, FIFOs off
  EXPECT_EQ(in(kLcr), 0);
  EXPECT_EQ(in(kMcr), 0);
  EXPECT_EQ(in(kLsr), 0x60);  // THRE | TEMT
  EXPECT_EQ(in(kMsr), 0xb0);  // DCD | DSR | CTS: a connected line
  EXPECT_TRUE(irq.levels().empty());
}

TEST_F(UartTest, DlabSelectsDivisorLatch) {
  outb(kIer, 0x05);
  outb(kLcr, 0x83);
  outb(kDll, 0x01);
  outb(kDlm, 0x02);
  EXPECT_EQ(in(kDll), 0x01);
  EXPECT_EQ(in(kDlm), 0x02);
  outb(kLcr, 0x03);
  EXPECT_EQ(in(kLcr), 0x03);
  EXPECT_EQ(in(kIer), 0x05);  // IER untouched by the DLM write
  EXPECT_TRUE(out.empty());   // the DLL write did not transmit
  auto s = uart.save();
  EXPECT_EQ(s.dll, 0x01);
  EXPECT_EQ(s.dlm, 0x02);
}

TEST_F(UartTest, ScratchRegisterHoldsAnyValue) {
  for (uint8_t v : {0xa5, 0x5a, 0x00, 0xff}) {
    outb(kScr, v);
    EXPECT_EQ(in(kScr), v);
  }
}

TEST_F(UartTest, IerKeepsOnlyLowNibble) {
  outb(kIer, 0xff);
  EXPECT_EQ(in(kIer), 0x0f);
  outb(kIer, 0x40);  // XScale UUE bit: must not stick
  EXPECT_EQ(in(kIer), 0x00);
}

TEST_F(UartTest, OutputGoesToSink) {
  for (char c : std::string("hi\n")) outb(kThr, static_cast<uint8_t>(c));
  EXPECT_EQ(out, (std::vector<uint8_t>{'h', 'i', '\n'}));
  EXPECT_EQ(in(kLsr)&0x60, 0x60);  // THRE|TEMT right after a write
}

TEST_F(UartTest, InputSetsDataReadyAndIsReadInOrder) {
  push({'a', 'b'});
  EXPECT_EQ(in(kLsr), 0x61);
  EXPECT_EQ(in(kRbr), 'a');
  EXPECT_EQ(in(kLsr)&0x01, 0x01);
  EXPECT_EQ(in(kRbr), 'b');
  EXPECT_EQ(in(kLsr), 0x60);
  EXPECT_EQ(in(kRbr), 0);  // empty FIFO reads 0
}

TEST_F(UartTest, LoopbackEchoesAndMapsModemLines) {
  outb(kMcr, 0x10 | 0x0a);         // LOOP | OUT2 | RTS, Linux's probe
  EXPECT_EQ(in(kMsr)&0xf0, 0x90);  // DCD | CTS
  outb(kMcr, 0x10 | 0x05);         // LOOP | OUT1 | DTR
  EXPECT_EQ(in(kMsr)&0xf0, 0x60);  // RI | DSR
  outb(kThr, 'x');
  EXPECT_TRUE(out.empty());  // loopback does not reach the sink
  EXPECT_EQ(in(kLsr)&0x01, 0x01);
  EXPECT_EQ(in(kRbr), 'x');
  outb(kMcr, 0x00);
  outb(kThr, 'y');
  EXPECT_EQ(out, std::vector<uint8_t>{'y'});
}

TEST_F(UartTest, ModemStatusDeltasAreSetAndClearedByRead) {
  in(kMsr);
  outb(kMcr, 0x10 | 0x0f);  // loopback with all outputs on
  // Leaving the "connected" state: DCD/DSR/CTS stay set via DTR/RTS/OUT2, RI rises.
  uint8_t msr = in(kMsr);
  EXPECT_EQ(msr & 0xf0, 0xf0);
  EXPECT_EQ(msr & 0x0f, 0x00);  // only RI changed, and a rising RI is not TERI
  outb(kMcr, 0x10);             // everything drops
  msr = in(kMsr);
  EXPECT_EQ(msr & 0x0f, 0x0f);  // DCTS, DDSR, TERI, DDCD
  EXPECT_EQ(in(kMsr)&0x0f, 0x00);
}

TEST_F(UartTest, LinuxAutoconfigSeesA16550A) {
  // Existence test (IER).
  uint8_t saved_ier = in(kIer);
  outb(kIer, 0);
  EXPECT_EQ(in(kIer)&0x0f, 0);
  outb(kIer, 0x0f);
  EXPECT_EQ(in(kIer)&0x0f, 0x0f);
  outb(kIer, saved_ier);
  // Loopback test.
  uint8_t saved_mcr = in(kMcr);
  outb(kMcr, 0x10 | 0x0a);
  EXPECT_EQ(in(kMsr)&0xf0, 0x90);
  outb(kMcr, saved_mcr);
  // EFR reset through LCR=0xBF, then the FIFO bits of IIR.
  outb(kLcr, 0xbf);
  outb(kFcr, 0);
  outb(kLcr, 0);
  outb(kFcr, 0x01);
  EXPECT_EQ(in(kIir) >> 6, 3);  // 16550A or later
  // autoconfig_16550a: no EFR behind either config mode.
  outb(kLcr, 0x80);
  EXPECT_NE(in(kIir), 0);
  outb(kLcr, 0xbf);
  EXPECT_NE(in(kIir), 0);
  // Not a NatSemi SuperIO: offset 2 with LCR=0xE0 does not mirror MCR.LOOP.
  outb(kLcr, 0);
  uint8_t mcr = in(kMcr);
  outb(kLcr, 0xe0);
  uint8_t excr = in(kIir);
  EXPECT_FALSE((excr ^ mcr) & 0x10);
  outb(kLcr, 0);
  outb(kMcr, mcr ^ 0x10);
  outb(kLcr, 0xe0);
  excr = in(kIir);
  outb(kLcr, 0);
  outb(kMcr, mcr);
  EXPECT_FALSE((excr ^ mcr) & 0x10);
  // Not a TI16750: IIR bit 5 never reports a 64-byte FIFO.
  outb(kFcr, 0x21);
  uint8_t status1 = in(kIir) >> 5;
  outb(kFcr, 0x01);
  outb(kLcr, 0x80);
  outb(kFcr, 0x21);
  uint8_t status2 = in(kIir) >> 5;
  outb(kFcr, 0x01);
  outb(kLcr, 0);
  EXPECT_FALSE(status1 == 6 && status2 == 7);
  // size_fifo(): 256 bytes in loopback must not count as 64.
  outb(kFcr, 0x07);
  outb(kMcr, 0x10);
  for (int i = 0; i < 256; ++i) outb(kThr, static_cast<uint8_t>(i));
  int count = 0;
  while ((in(kLsr)&0x01) && count < 256) {
    EXPECT_EQ(in(kRbr), count);
    ++count;
  }
  EXPECT_NE(count, 64);
  outb(kMcr, 0);
  EXPECT_TRUE(out.empty());
}

TEST_F(UartTest, ThreInterruptOnEnableAndReassertedAfterIirRead) {
  // Linux's UART_BUG_THRE test: enable THRI, read IIR, toggle, read again.
  outb(kIer, 0x02);
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kIir)&0x0f, 0x02);  // THRE reported ...
  EXPECT_FALSE(irq.level());       // ... and acknowledged by that read
  EXPECT_EQ(in(kIir)&0x0f, 0x01);
  outb(kIer, 0);
  outb(kIer, 0x02);
  EXPECT_EQ(in(kIir)&0x0f, 0x02);  // re-armed by the 0 -> 1 edge of ETBEI
  EXPECT_EQ(irq.levels(), (std::vector<bool>{true, false, true, false}));
}

TEST_F(UartTest, WritingThrRaisesThreAgain) {
  outb(kIer, 0x02);
  EXPECT_EQ(in(kIir)&0x0f, 0x02);
  EXPECT_FALSE(irq.level());
  outb(kThr, 'a');
  EXPECT_TRUE(irq.level());  // a new edge: the byte went out at once
  outb(kIer, 0x00);          // driver stops TX
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(in(kIir)&0x0f, 0x01);
}

TEST_F(UartTest, ReceiveDataOutranksThrEmpty) {
  outb(kFcr, 0x01);
  outb(kIer, 0x03);
  push({'z'});
  EXPECT_EQ(in(kIir), 0xc4);  // FIFO bits + receive data
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kIir), 0xc4);  // reading IIR does not clear receive data
  EXPECT_EQ(in(kRbr), 'z');
  EXPECT_TRUE(irq.level());   // THRE still pending
  EXPECT_EQ(in(kIir), 0xc2);  // now THRE shows, and the read acknowledges it
  EXPECT_FALSE(irq.level());
  EXPECT_EQ(in(kIir), 0xc1);
}

TEST_F(UartTest, ReceiveInterruptFollowsDataReady) {
  outb(kIer, 0x01);
  EXPECT_TRUE(irq.levels().empty());
  push({'1', '2'});
  EXPECT_EQ(irq.levels(), std::vector<bool>{true});
  in(kRbr);
  EXPECT_EQ(irq.levels(), std::vector<bool>{true});  // still data: no redundant call
  in(kRbr);
  EXPECT_EQ(irq.levels(), (std::vector<bool>{true, false}));
}

TEST_F(UartTest, NoInterruptWhenDisabled) {
  push({'q'});
  outb(kThr, 'w');
  EXPECT_TRUE(irq.levels().empty());
  EXPECT_EQ(in(kIir), 0x01);
}

TEST_F(UartTest, ModemStatusInterruptHasLowestPriority) {
  outb(kIer, 0x08);
  outb(kMcr, 0x10);  // loopback: all modem inputs drop -> deltas
  EXPECT_TRUE(irq.level());
  EXPECT_EQ(in(kIir)&0x0f, 0x00);
  outb(kIer, 0x0a);
  EXPECT_EQ(in(kIir)&0x0f, 0x02);  // THRE outranks modem status
  EXPECT_EQ(in(kIir)&0x0f, 0x00);
  in(kMsr);
  EXPECT_EQ(in(kIir)&0x0f, 0x01);
  EXPECT_FALSE(irq.level());
}

TEST_F(UartTest, InputOverflowIsDroppedCountedAndReportedAsOverrun) {
  std::vector<uint8_t> big(Uart16550::kInputCapacity + 10, 'x');
  big[0] = 'f';
  EXPECT_EQ(uart.push_input(big), Uart16550::kInputCapacity);
  EXPECT_EQ(uart.dropped_input_bytes(), 10u);
  EXPECT_EQ(uart.input_space(), 0u);
  EXPECT_EQ(uart.push_input(std::vector<uint8_t>{'y'}), 0u);
  EXPECT_EQ(uart.dropped_input_bytes(), 11u);
  outb(kIer, 0x04);
  EXPECT_EQ(in(kIir)&0x0f, 0x06);  // line status
  EXPECT_EQ(in(kLsr), 0x63);       // DR | OE | THRE | TEMT
  EXPECT_EQ(in(kLsr), 0x61);       // OE cleared by the read
  EXPECT_EQ(in(kIir)&0x0f, 0x01);
  EXPECT_EQ(in(kRbr), 'f');
  EXPECT_EQ(uart.input_space(), 1u);
}

TEST_F(UartTest, FifoClearAndToggleDiscardInput) {
  outb(kFcr, 0x01);
  push({'a'});
  outb(kFcr, 0x03);
  EXPECT_EQ(in(kLsr)&0x01, 0);
  push({'b'});
  outb(kFcr, 0x00);  // disabling FIFOs resets them
  EXPECT_EQ(in(kLsr)&0x01, 0);
  EXPECT_EQ(in(kIir), 0x01);
}

TEST_F(UartTest, WideAccessesAreIgnored) {
  std::array<uint8_t, 2> w{0x41, 0x42};
  uart.write(0, w);
  EXPECT_TRUE(out.empty());
  uart.read(0, w);
  EXPECT_EQ(w, (std::array<uint8_t, 2>{0xff, 0xff}));
}

TEST_F(UartTest, SaveRestoreRoundTrip) {
  outb(kFcr, 0xc1);
  outb(kLcr, 0x83);
  outb(kDll, 0x03);
  outb(kLcr, 0x1b);
  outb(kIer, 0x03);
  outb(kScr, 0x77);
  outb(kMcr, 0x0b);
  push({'p', 'q'});
  auto s = uart.save();
  EXPECT_EQ(s.rx_fifo, (std::vector<uint8_t>{'p', 'q'}));
  EXPECT_EQ(s.fcr, 0xc1);

  FakeIrqLine irq2;
  std::vector<uint8_t> out2;
  Uart16550 other(&irq2, [&](std::span<const uint8_t> b) { out2.insert(out2.end(), b.begin(), b.end()); });
  ASSERT_TRUE(other.restore(s));
  EXPECT_EQ(irq2.levels(), std::vector<bool>{true});  // restored level delivered
  auto s2 = other.save();
  EXPECT_EQ(s2.ier, s.ier);
  EXPECT_EQ(s2.lcr, s.lcr);
  EXPECT_EQ(s2.mcr, s.mcr);
  EXPECT_EQ(s2.fcr, s.fcr);
  EXPECT_EQ(s2.scr, s.scr);
  EXPECT_EQ(s2.dll, s.dll);
  EXPECT_EQ(s2.dlm, s.dlm);
  EXPECT_EQ(s2.msr_deltas, s.msr_deltas);
  EXPECT_EQ(s2.overrun, s.overrun);
  EXPECT_EQ(s2.thr_interrupt_pending, s.thr_interrupt_pending);
  EXPECT_EQ(s2.rx_fifo, s.rx_fifo);
  std::array<uint8_t, 1> b{};
  other.read(kRbr, b);
  EXPECT_EQ(b[0], 'p');
}

TEST_F(UartTest, RestoreRefusesInvalidState) {
  auto good = uart.save();
  auto check = [&](auto mutate) {
    auto s = good;
    mutate(s);
    EXPECT_FALSE(uart.restore(s));
  };
  check([](auto& s) { s.ier = 0x10; });
  check([](auto& s) { s.mcr = 0x20; });
  check([](auto& s) { s.fcr = 0x02; });  // self-clearing bit
  check([](auto& s) { s.fcr = 0xc0; });  // trigger without FIFO enable
  check([](auto& s) { s.msr_deltas = 0x10; });
  check([](auto& s) { s.rx_fifo.assign(Uart16550::kInputCapacity + 1, 0); });
  outb(kScr, 0x12);
  EXPECT_EQ(in(kScr), 0x12);  // state untouched by refusals
  EXPECT_TRUE(uart.restore(good));
  EXPECT_EQ(in(kScr), 0);
}

TEST_F(UartTest, ConcurrentWritersKeepEveryByte) {
  outb(kIer, 0x02);
  constexpr int kPerThread = 2000;
  auto writer = [&](uint8_t c) {
    for (int i = 0; i < kPerThread; ++i) {
      std::array<uint8_t, 1> b{c};
      uart.write(kThr, b);
      std::array<uint8_t, 1> r{};
      uart.read(kIir, r);
    }
  };
  std::thread t1(writer, 'a'), t2(writer, 'b');
  std::thread reader([&] {
    for (int i = 0; i < kPerThread; ++i) uart.push_input(std::vector<uint8_t>{'i'});
  });
  t1.join();
  t2.join();
  reader.join();
  EXPECT_EQ(out.size(), 2u * kPerThread);
  EXPECT_EQ(std::count(out.begin(), out.end(), 'a'), kPerThread);
  // The last delivered level matches the final state.
  outb(kIer, 0x00);
  EXPECT_FALSE(irq.level());
}

}  // namespace
}  // namespace wren
