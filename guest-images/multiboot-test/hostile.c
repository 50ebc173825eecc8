/* The multiboot test kernel's `hostile` mode: a deliberately broken
 * virtio-net driver for Wren's NIC (issue 13). It finds the NIC on PCI bus 0
 * (configuration mechanism #1), drives it through the modern virtio-pci
 * capabilities (device 0x1041) or the legacy I/O BAR (transitional device
 * 0x1000), and runs one broken case after another. After each case it prints
 *   hostile: <case> status=0x.. needs_reset=N used=N [more]
 * then resets the device (status 0), sets it up like a sane driver, sends a
 * frame tagged WRENHOSTILE:<case>-recovered and prints
 *   hostile: <case> recovered status=0x.. needs_reset=N used=N
 * The host side (tests/integration/test_hostile.py) holds the expectations;
 * this side only reports what the device did.
 *
 * Flat 32-bit protected mode without paging: guest-physical addresses are
 * pointers. No interrupts: completions are polled, bounded by the HPET's
 * 100 MHz main counter. Built freestanding (gcc -m32 -ffreestanding). */
#include <stdint.h>

#include "hw.h"
#include "virtio_pci.h"

/* Guest-physical layout (the guest has 64 MiB; the kernel sits at 1 MiB).
 * Ring placement is the legacy one for 256 entries (desc, avail at +4 KiB,
 * used at +8 KiB), so both transports share it. */
#define QSIZE 256
#define TX_RING 0x400000u
#define RX_RING 0x410000u
#define INDIRECT_TABLE 0x420000u /* up to 2048 entries */
#define HEADER 0x430000u         /* a zeroed virtio-net header */
#define FRAME 0x431000u          /* frame bytes */
#define RX_BUFFERS 0x440000u
#define BIG 0x1000000u /* 16 MiB of RAM that oversized chains point at */
#define OUTSIDE_RAM 0xf0000000u
#define RAM_END 0x4000000u /* the test boots with 64 MiB */

static uint16_t avail_idx[2];
static uint32_t extra_features; /* offered bits a case asks for besides INDIRECT_DESC */

static uint8_t status(void) { return virtio_status(); }
static void set_status(uint8_t v) { virtio_set_status(v); }
/* Status 0, then ACKNOWLEDGE | DRIVER and the features (INDIRECT_DESC, and
 * VERSION_1 on modern). Returns 0 if the device refused FEATURES_OK. */
static int begin(void) { return virtio_begin(F_INDIRECT | extra_features, F_VERSION_1_HI); }
static void driver_ok(void) { virtio_driver_ok(); }

static void zero_in_ram(uint32_t at, uint32_t bytes) {
  if (at < RAM_END)
    for (uint32_t i = 0; i < bytes; i += 4) MMIO32(at + i) = 0;
}
/* Places queue q's rings and enables it; returns whether the device took it
 * (queue_enable reads 1, or the legacy PFN reads back). */
static int setup_queue(uint16_t q, uint32_t desc, uint32_t avail, uint32_t used) {
  /* A fresh driver's rings start zeroed: no stale indices from the last case. */
  zero_in_ram(desc, QSIZE * 16);
  zero_in_ram(avail, 0x1000);
  zero_in_ram(used, 0x1000);
  avail_idx[q & 1] = 0;
  return virtio_setup_queue(q, desc, avail, used);
}
static int setup_ring(uint16_t q, uint32_t ring) { return setup_queue(q, ring, ring + 0x1000, ring + 0x2000); }

static void notify(uint16_t q) { virtio_notify(q); }

static struct desc* descs(uint32_t ring) { return (struct desc*)(uintptr_t)ring; }
/* Publishes chain `head` on queue q (rings at `ring`, avail at +4 KiB). */
static void push(uint16_t q, uint32_t avail, uint16_t head) {
  uint16_t idx = avail_idx[q & 1];
  MMIO16(avail + 4 + 2 * (idx % QSIZE)) = head;
  barrier();
  MMIO16(avail + 2) = (uint16_t)(idx + 1);
  avail_idx[q & 1] = (uint16_t)(idx + 1);
}
/* Waits until used->idx reaches `target`, the device sets NEEDS_RESET, or
 * `ms` pass; returns used->idx. */
static uint16_t wait_used(uint32_t used, uint16_t target, uint32_t ms) {
  uint32_t start = now_ticks();
  for (;;) {
    uint16_t idx = MMIO16(used + 2);
    if ((uint16_t)(idx - target) < 0x8000) return idx;
    if (status() & S_NEEDS_RESET) return idx;
    if (now_ticks() - start > ms * TICKS_PER_MS) return idx;
    __asm__ volatile("pause");
  }
}

/* Writes an Ethernet broadcast frame (ethertype 0x88b5, payload
 * WRENHOSTILE:<tag>) of `len` bytes at `at`. */
static void make_frame(uint32_t at, const char* tag, uint32_t len) {
  static const char prefix[] = "WRENHOSTILE:";
  uint8_t* f = (uint8_t*)(uintptr_t)at;
  for (uint32_t i = 0; i < len; ++i) f[i] = 0;
  for (int i = 0; i < 6; ++i) f[i] = 0xff;
  f[6] = 0x02, f[11] = 0x02;
  f[12] = 0x88, f[13] = 0xb5;
  uint32_t n = 14;
  for (const char* p = prefix; *p; ++p) f[n++] = (uint8_t)*p;
  for (const char* p = tag; *p; ++p) f[n++] = (uint8_t)*p;
}

/* Publishes TX chain `head`, kicks, and waits until `target` chains are used. */
static uint16_t kick_tx(uint16_t head, uint16_t target) {
  push(1, TX_RING + 0x1000, head);
  notify(1);
  return wait_used(TX_RING + 0x2000, target, 2000);
}

/* t[0] the header, then the frame at `frame` in count - 1 one-byte pieces. */
static void one_byte_pieces(struct desc* t, uint16_t count, uint32_t frame) {
  set_desc(&t[0], HEADER, nic.hdr_len, D_NEXT, 1);
  for (uint16_t i = 1; i < count; ++i) set_desc(&t[i], frame + i - 1, 1, i < count - 1 ? D_NEXT : 0, (uint16_t)(i + 1));
}

static void report(const char* name, const char* what, uint16_t used) {
  uint8_t s = status();
  print("hostile: ");
  print(name);
  if (what) print(what);
  print(" status=0x");
  print_hex2(s);
  print(" needs_reset=");
  print_dec((s & S_NEEDS_RESET) != 0);
  print(" used=");
  print_dec(used);
}

#define GO_BUFFERS 16
#define GO_BUFFER_BYTES 2048u
#define GO_WAIT_MS 40000u /* below the 42.9 s the 32-bit HPET difference covers */

/* Posts GO_BUFFERS receive buffers of 2 KiB on queue 0 (before DRIVER_OK). */
static int setup_go_buffers(void) {
  if (!setup_ring(0, RX_RING)) return 0;
  for (uint16_t i = 0; i < GO_BUFFERS; ++i) {
    set_desc(&descs(RX_RING)[i], RX_BUFFERS + GO_BUFFER_BYTES * i, GO_BUFFER_BYTES, D_WRITE, 0);
    push(0, RX_RING + 0x1000, i);
  }
  return 1;
}

/* Waits for the host's go-ahead: a received frame with ethertype 0x88b6.
 * Other frames (the host's own IPv6 chatter) are skipped. */
static int wait_go(void) {
  uint32_t used = RX_RING + 0x2000;
  uint32_t start = now_ticks();
  for (uint16_t seen = 0; seen < GO_BUFFERS;) {
    uint32_t elapsed_ms = (now_ticks() - start) / TICKS_PER_MS;
    if (elapsed_ms >= GO_WAIT_MS) return 0;
    uint16_t idx = wait_used(used, (uint16_t)(seen + 1), GO_WAIT_MS - elapsed_ms);
    if (idx == seen) return 0; /* timed out, or NEEDS_RESET */
    for (; seen != idx; ++seen) {
      uint32_t id = MMIO32(used + 4 + 8 * (seen % QSIZE));
      uint32_t frame = RX_BUFFERS + GO_BUFFER_BYTES * (id % GO_BUFFERS) + nic.hdr_len;
      if (MMIO8(frame + 12) == 0x88 && MMIO8(frame + 13) == 0xb6) return 1;
    }
  }
  return 0;
}

/* On a freshly reset device: a normal two-descriptor TX of a 60-byte frame
 * tagged <case>-recovered, then receive buffers, on which the host's
 * go-ahead for the next case arrives (after it has checked this one). */
static void recover(const char* name) {
  char tag[64];
  uint32_t n = 0;
  for (const char* p = name; *p && n < 40; ++p) tag[n++] = *p;
  for (const char* p = "-recovered"; *p; ++p) tag[n++] = *p;
  tag[n] = 0;
  uint16_t used = 0;
  int rx = 0;
  if (begin() && setup_ring(1, TX_RING)) {
    rx = setup_go_buffers();
    driver_ok();
    if (rx) notify(0);
    make_frame(FRAME, tag, 60);
    set_desc(&descs(TX_RING)[0], HEADER, nic.hdr_len, D_NEXT, 1);
    set_desc(&descs(TX_RING)[1], FRAME, 60, 0, 0);
    used = kick_tx(0, 1);
  }
  report(name, " recovered", used);
  print("\n");
  print("hostile: ");
  print(name);
  print(rx && wait_go() ? " go\n" : " no go\n");
  set_status(0);
}

/* ---- The cases --------------------------------------------------------------- */

/* A chain of 0x11000 bytes, and one of 200 x 16 MiB (3.2 GiB, all in RAM):
 * both above the 64 KiB + header a TAP takes. */
static void case_tx_oversized(void) {
  uint16_t used = 0;
  if (begin() && setup_ring(1, TX_RING)) {
    driver_ok();
    struct desc* d = descs(TX_RING);
    set_desc(&d[0], HEADER, nic.hdr_len, D_NEXT, 1);
    set_desc(&d[1], BIG, 0x11000, 0, 0);
    set_desc(&d[2], HEADER, nic.hdr_len, D_NEXT, 3);
    for (uint16_t i = 3; i < 203; ++i) set_desc(&d[i], BIG, 0x1000000, i < 202 ? D_NEXT : 0, (uint16_t)(i + 1));
    push(1, TX_RING + 0x1000, 0);
    used = kick_tx(2, 2);
  }
  report("tx-oversized", 0, used);
  print("\n");
}

/* A frame in 255 one-byte pieces after the header (all 256 descriptors of
 * the table), then one in 1023 one-byte pieces of a full indirect table. */
static void case_tx_many_pieces(void) {
  uint16_t used = 0;
  if (begin() && setup_ring(1, TX_RING)) {
    driver_ok();
    struct desc* d = descs(TX_RING);
    make_frame(FRAME, "pieces-direct", 255);
    one_byte_pieces(d, QSIZE, FRAME);
    used = kick_tx(0, 1);
    if (used == 1) {
      make_frame(FRAME + 0x400, "pieces-indirect", 1023);
      one_byte_pieces(descs(INDIRECT_TABLE), 1024, FRAME + 0x400);
      set_desc(&d[0], INDIRECT_TABLE, 1024 * 16, D_INDIRECT, 0);
      used = kick_tx(0, 2);
    }
  }
  report("tx-many-pieces", 0, used);
  print("\n");
}

/* An indirect table of 1025 entries: one more than Wren accepts. */
static void case_tx_too_many_pieces(void) {
  uint16_t used = 0;
  if (begin() && setup_ring(1, TX_RING)) {
    driver_ok();
    make_frame(FRAME, "too-many-pieces", 1024);
    one_byte_pieces(descs(INDIRECT_TABLE), 1025, FRAME);
    set_desc(&descs(TX_RING)[0], INDIRECT_TABLE, 1025 * 16, D_INDIRECT, 0);
    used = kick_tx(0, 1);
  }
  report("tx-too-many-pieces", 0, used);
  print("\n");
}

/* Every receive buffer is 4 bytes, shorter than the virtio-net header; the
 * host sends frames meanwhile. */
static void case_rx_short(void) {
  uint16_t used = 0;
  if (begin() && setup_ring(0, RX_RING)) {
    driver_ok();
    struct desc* d = descs(RX_RING);
    for (uint16_t i = 0; i < QSIZE; ++i) {
      set_desc(&d[i], RX_BUFFERS + 16u * i, 4, D_WRITE, 0);
      push(0, RX_RING + 0x1000, i);
    }
    notify(0);
    print("hostile: rx-short posted\n"); /* the host sends frames now */
    used = wait_used(RX_RING + 0x2000, 1, 5000);
  }
  report("rx-short", 0, used);
  print("\n");
}

/* As rx-short with mergeable receive buffers: 256 buffers of one byte each,
 * so a frame with its header spans over a hundred of them. */
static void case_rx_short_mergeable(void) {
  uint16_t used = 0;
  extra_features = F_MRG_RXBUF;
  if (begin() && setup_ring(0, RX_RING)) {
    driver_ok();
    struct desc* d = descs(RX_RING);
    for (uint16_t i = 0; i < QSIZE; ++i) {
      set_desc(&d[i], RX_BUFFERS + i, 1, D_WRITE, 0);
      push(0, RX_RING + 0x1000, i);
    }
    notify(0);
    print("hostile: rx-short-mergeable posted\n"); /* the host sends frames now */
    wait_used(RX_RING + 0x2000, QSIZE, 5000);
    used = MMIO16(RX_RING + 0x2000 + 2);
  }
  extra_features = 0;
  report("rx-short-mergeable", 0, used);
  print("\n");
}

/* A descriptor table outside guest RAM: refused at queue_enable. */
static void case_ring_outside_ram(void) {
  int enabled = 0;
  if (begin()) {
    enabled = nic.modern ? setup_queue(1, OUTSIDE_RAM, TX_RING + 0x1000, TX_RING + 0x2000) : setup_ring(1, OUTSIDE_RAM);
    driver_ok();
  }
  report("ring-outside-ram", 0, 0);
  print(" enabled=");
  print_dec(enabled);
  print("\n");
}

/* A TX buffer outside guest RAM. */
static void case_buffer_outside_ram(void) {
  uint16_t used = 0;
  if (begin() && setup_ring(1, TX_RING)) {
    driver_ok();
    set_desc(&descs(TX_RING)[0], HEADER, nic.hdr_len, D_NEXT, 1);
    set_desc(&descs(TX_RING)[1], OUTSIDE_RAM, 60, 0, 0);
    used = kick_tx(0, 1);
  }
  report("buffer-outside-ram", 0, used);
  print("\n");
}

/* Queue size 100 (not a power of two) written before the queue is enabled;
 * the driver then uses whatever size the register reads back. */
static void case_queue_size_npot(void) {
  uint16_t used = 0, size = 0;
  if (begin()) {
    virtio_write_queue_size(1, 100);
    size = virtio_queue_size(1);
    if (size == QSIZE && setup_ring(1, TX_RING)) {
      driver_ok();
      make_frame(FRAME, "queue-size-npot", 60);
      set_desc(&descs(TX_RING)[0], HEADER, nic.hdr_len, D_NEXT, 1);
      set_desc(&descs(TX_RING)[1], FRAME, 60, 0, 0);
      used = kick_tx(0, 1);
    }
  }
  report("queue-size-npot", 0, used);
  print(" size=");
  print_dec(size);
  print("\n");
}

/* The used ring placed on the descriptor table (modern only: the legacy
 * layout fixes the used ring 8 KiB after the table). Two single-descriptor
 * frames, then the first descriptor again after the device wrote its used
 * entries over it. */
static void case_used_overlaps_desc(void) {
  if (!nic.modern) {
    print("hostile: used-overlaps-desc not applicable (the legacy ring layout is fixed)\n");
    return;
  }
  uint16_t used = 0;
  if (begin() && setup_queue(1, TX_RING, TX_RING + 0x1000, TX_RING)) {
    driver_ok();
    make_frame(FRAME + 0x100, "overlap", 60);
    for (uint32_t i = 0; i < nic.hdr_len; ++i) MMIO8(FRAME + 0x100 - nic.hdr_len + i) = 0;
    set_desc(&descs(TX_RING)[0], FRAME + 0x100 - nic.hdr_len, nic.hdr_len + 60, 0, 0);
    set_desc(&descs(TX_RING)[1], FRAME + 0x100 - nic.hdr_len, nic.hdr_len + 60, 0, 0);
    push(1, TX_RING + 0x1000, 0);
    push(1, TX_RING + 0x1000, 1);
    notify(1);
    used = wait_used(TX_RING, 2, 1000);
    push(1, TX_RING + 0x1000, 0);
    notify(1);
    used = wait_used(TX_RING, 3, 1000);
  }
  report("used-overlaps-desc", 0, used);
  print("\n");
}

/* Entry from kernel.s: returns 0 once every case ran, 1 without a NIC. */
int hostile_main(void) {
  print("hostile: start\n");
  hpet_start();
  if (!virtio_find_nic("hostile")) {
    print("hostile: no virtio-net NIC found\n");
    return 1;
  }
  for (uint32_t i = 0; i < 64; ++i) MMIO8(HEADER + i) = 0;
  static const struct {
    const char* name;
    void (*run)(void);
  } cases[] = {
      {"tx-oversized", case_tx_oversized},
      {"tx-many-pieces", case_tx_many_pieces},
      {"tx-too-many-pieces", case_tx_too_many_pieces},
      {"rx-short", case_rx_short},
      {"rx-short-mergeable", case_rx_short_mergeable},
      {"ring-outside-ram", case_ring_outside_ram},
      {"buffer-outside-ram", case_buffer_outside_ram},
      {"queue-size-npot", case_queue_size_npot},
      {"used-overlaps-desc", case_used_overlaps_desc},
  };
  for (uint32_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    cases[i].run();
    recover(cases[i].name);
  }
  print("hostile: done\n");
  return 0;
}
