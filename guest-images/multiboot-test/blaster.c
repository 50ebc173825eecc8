/* The multiboot test kernel's `blaster` mode (issue 15): a packet blaster on
 * a modern virtio-net NIC (device 0x1041: Wren's `transport=modern`, QEMU's
 * `virtio-net-pci,disable-legacy=on`), so that the same guest measures both
 * VMMs. Polled, interrupts suppressed (VRING_AVAIL_F_NO_INTERRUPT), one
 * queue pair. It runs fixed-length loops, each as many frames as its
 * command-line word says (0 skips it):
 *   tx64=N tx1500=N   TX of 64-byte and 1514-byte frames
 *   tso=N             TX of 65,494-byte TCPv4 frames (gso_size 1448), when
 *                     the device offers CSUM and HOST_TSO4
 *   rx64=N rx1500=N   RX of frames the host sends (ethertype 0x88b5, exactly
 *                     64 or 1514 bytes; other frames are returned uncounted)
 * and prints one line per loop:
 *   blaster: <tx|rx> <size> frames=N bytes=B cycles=C ticks=T kicks=K
 * cycles are TSC cycles and ticks HPET ticks (100 MHz on both VMMs) from the
 * loop's first frame to its last; bytes count frames without the virtio-net
 * header; kicks are the notify writes. It starts with
 *   blaster: ready tso=0|1 tsc_khz=K
 * Before each TX loop it prints
 *   blaster: tx <size> waiting
 * and waits for the host's go-ahead (a frame with ethertype 0x88b6), so that
 * the host can sample its CPU clocks first; before each RX loop it prints
 *   blaster: rx <size> posted
 * and the host starts sending. After the last loop it prints
 *   blaster: end waiting
 * and waits for one more go-ahead before `blaster: done` and the exit. Waits
 * give up after `rxtimeout=S` seconds (default 120) and say so. Every TX frame comes from
 * 02:b1:a5:7e:00:01 to 02:b1:a5:7e:00:02, an address no host owns, so the
 * host's stack drops it at once while a packet socket on the TAP counts it.
 *
 * It runs in ring 0. Ring 3 (entered with sysexitq, notifying through the
 * MMIO notify region) ran at native speed on the paravirtual KVM backend of
 * the earlier development machines; under the KVM host VM (QEMU TCG with
 * nested SVM) both rings are emulated alike: see `ring3probe` below and
 * guest-images/README.md for the measurement. */
#include <stdint.h>

#include "hw.h"
#include "ring3.h"
#include "virtio_pci.h"

#define QSIZE 256
#define RX_QUEUE 0
#define TX_QUEUE 1
/* Guest-physical layout (64 MiB of RAM; the kernel sits at 1 MiB): rings
 * at the legacy offsets (desc, avail +4 KiB, used +8 KiB), one TX buffer per
 * frame size (every TX descriptor of a loop points at it: the device only
 * reads it), and 256 receive buffers of 2 KiB. */
#define TX_RING 0x400000u
#define RX_RING 0x410000u
#define TX_SMALL 0x420000u
#define TX_MTU 0x421000u
#define TX_TSO 0x430000u /* 12 + 65,494 bytes */
#define RX_BUFFERS 0x500000u
#define RX_BUFFER_BYTES 2048u

#define SMALL_FRAME 64u
#define MTU_FRAME 1514u
#define TSO_FRAME 65494u
#define TSO_MSS 1448u
#define ETHERTYPE_BLAST 0x88b5u
#define ETHERTYPE_GO 0x88b6u

struct ring {
  volatile struct desc* desc;
  volatile uint16_t* avail; /* flags, idx, ring[QSIZE] */
  volatile uint16_t* used;  /* flags, idx, then {u32 id, u32 len}[QSIZE] */
  uint32_t notify;
  uint16_t next_avail, last_used;
};
static struct ring tx, rx;

static void ring_init(struct ring* r, uint32_t base, uint16_t q) {
  r->desc = (volatile struct desc*)(uintptr_t)base;
  r->avail = (volatile uint16_t*)(uintptr_t)(base + 0x1000);
  r->used = (volatile uint16_t*)(uintptr_t)(base + 0x2000);
  for (uint32_t i = 0; i < 0x3000; i += 4) MMIO32(base + i) = 0;
  r->avail[0] = AVAIL_F_NO_INTERRUPT;
  r->next_avail = r->last_used = 0;
  (void)q;
}

/* A full barrier: the avail index must be visible before the used ring's
 * NO_NOTIFY flag is read (store then load). */
static inline void mb(void) { __asm__ volatile("lock; addl $0,(%%esp)" ::: "memory"); }

static void publish(struct ring* r, uint16_t count, uint32_t* kicks) {
  r->next_avail = (uint16_t)(r->next_avail + count);
  barrier();
  r->avail[1] = r->next_avail;
  mb();
  if (!(r->used[0] & USED_F_NO_NOTIFY)) {
    MMIO16(r->notify) = (uint16_t)(r == &tx ? TX_QUEUE : RX_QUEUE);
    ++*kicks;
  }
}

struct result {
  uint32_t frames, kicks;
  uint64_t bytes, cycles, ticks;
};

static void report(const char* dir, uint32_t size, const struct result* r) {
  print("blaster: ");
  print(dir);
  print(" ");
  print_dec(size);
  print(" frames=");
  print_dec(r->frames);
  print(" bytes=");
  print_dec64(r->bytes);
  print(" cycles=");
  print_dec64(r->cycles);
  print(" ticks=");
  print_dec64(r->ticks);
  print(" kicks=");
  print_dec(r->kicks);
  print("\n");
}

/* ---- Frames ------------------------------------------------------------------ */
static const uint8_t kBlasterMac[6] = {0x02, 0xb1, 0xa5, 0x7e, 0x00, 0x01};
static const uint8_t kNobodyMac[6] = {0x02, 0xb1, 0xa5, 0x7e, 0x00, 0x02};

static void put16(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static uint32_t sum16(const uint8_t* p, uint32_t n, uint32_t sum) {
  for (uint32_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)p[n - 1] << 8;
  return sum;
}
static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

/* virtio-net header (12 bytes, zero: no offload) and an Ethernet frame of
 * `len` bytes with ethertype 0x88b5 and payload "WRENBLAST". */
static void make_plain(uint32_t at, uint32_t len) {
  uint8_t* b = (uint8_t*)(uintptr_t)at;
  for (uint32_t i = 0; i < 12 + len; ++i) b[i] = 0;
  uint8_t* f = b + 12;
  for (int i = 0; i < 6; ++i) f[i] = kNobodyMac[i], f[6 + i] = kBlasterMac[i];
  put16(f + 12, ETHERTYPE_BLAST);
  static const char tag[] = "WRENBLAST";
  for (uint32_t i = 0; tag[i]; ++i) f[14 + i] = (uint8_t)tag[i];
}

/* virtio-net header asking for TSO (NEEDS_CSUM, GSO_TCPV4, gso_size 1448)
 * and one IPv4/TCP frame of TSO_FRAME bytes; the TCP checksum field holds
 * the pseudo-header sum, as a partial checksum must. */
static void make_tso(uint32_t at) {
  uint8_t* b = (uint8_t*)(uintptr_t)at;
  for (uint32_t i = 0; i < 12 + TSO_FRAME; ++i) b[i] = 0;
  b[0] = 1; /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
  b[1] = 1; /* VIRTIO_NET_HDR_GSO_TCPV4 */
  b[2] = 54, b[3] = 0;                         /* hdr_len */
  b[4] = (uint8_t)TSO_MSS, b[5] = TSO_MSS >> 8; /* gso_size */
  b[6] = 34, b[7] = 0;                         /* csum_start: the TCP header */
  b[8] = 16, b[9] = 0;                         /* csum_offset: its checksum */
  uint8_t* f = b + 12;
  for (int i = 0; i < 6; ++i) f[i] = kNobodyMac[i], f[6 + i] = kBlasterMac[i];
  put16(f + 12, 0x0800);
  uint8_t* ip = f + 14;
  const uint32_t ip_len = TSO_FRAME - 14;
  ip[0] = 0x45;
  put16(ip + 2, ip_len);
  put16(ip + 6, 0x4000); /* DF */
  ip[8] = 64;
  ip[9] = 6;
  static const uint8_t src[4] = {10, 77, 0, 2}, dst[4] = {10, 77, 0, 254};
  for (int i = 0; i < 4; ++i) ip[12 + i] = src[i], ip[16 + i] = dst[i];
  put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
  uint8_t* tcp = ip + 20;
  put16(tcp, 40000);
  put16(tcp + 2, 9); /* discard */
  tcp[12] = 5 << 4;
  tcp[13] = 0x18; /* PSH, ACK */
  put16(tcp + 14, 0xffff);
  uint32_t pseudo = sum16(ip + 12, 8, 0) + 6 + (ip_len - 20);
  put16(tcp + 16, fold(pseudo));
}

/* ---- Loops ------------------------------------------------------------------- */

/* Sends `n` copies of the frame at `buffer` (header + `len` bytes), keeping
 * the ring as full as the device lets it. */
static struct result tx_loop(uint32_t buffer, uint32_t len, uint32_t n) {
  struct result r = {0, 0, 0, 0, 0};
  for (uint16_t i = 0; i < QSIZE; ++i) {
    tx.desc[i].addr_lo = buffer;
    tx.desc[i].addr_hi = 0;
    tx.desc[i].len = 12 + len;
    tx.desc[i].flags = 0;
    tx.avail[2 + i] = i; /* slot i always names descriptor i */
  }
  uint32_t posted = 0, done = 0;
  uint64_t t0 = rdtsc(), h0 = now_ticks64();
  while (done < n) {
    uint16_t used = tx.used[1];
    done += (uint16_t)(used - tx.last_used);
    tx.last_used = used;
    uint32_t room = QSIZE - (posted - done), want = n - posted;
    if (want > room) want = room;
    if (want) {
      posted += want;
      publish(&tx, (uint16_t)want, &r.kicks);
    } else {
      __asm__ volatile("pause");
    }
  }
  r.cycles = rdtsc() - t0;
  r.ticks = now_ticks64() - h0;
  r.frames = n;
  r.bytes = (uint64_t)n * len;
  return r;
}

static uint16_t frame_type(uint32_t buffer) {
  const uint8_t* f = (const uint8_t*)(uintptr_t)(buffer + 12);
  return (uint16_t)(f[12] << 8 | f[13]);
}

/* Receives until `n` frames of exactly `len` bytes with the blaster's
 * ethertype have arrived (others are returned uncounted), or `timeout_s`
 * pass; times from the first counted frame to the last. */
static struct result rx_loop(uint32_t len, uint32_t n, uint32_t timeout_s) {
  struct result r = {0, 0, 0, 0, 0};
  uint64_t t0 = 0, h0 = 0, t_last = 0, h_last = 0;
  uint64_t deadline = now_ticks64() + (uint64_t)timeout_s * 1000 * TICKS_PER_MS;
  uint32_t idle = 0;
  while (r.frames < n) {
    uint16_t used = rx.used[1];
    uint16_t fresh = (uint16_t)(used - rx.last_used);
    if (!fresh) {
      __asm__ volatile("pause");
      if (++idle == 1u << 16) { /* reading the HPET exits: rarely */
        idle = 0;
        if (now_ticks64() > deadline) break;
      }
      continue;
    }
    for (uint16_t k = 0; k < fresh; ++k) {
      volatile uint32_t* e = (volatile uint32_t*)(rx.used + 2) + 2 * ((rx.last_used + k) % QSIZE);
      uint32_t id = e[0] % QSIZE, got = e[1] - 12;
      if (got == len && frame_type(RX_BUFFERS + RX_BUFFER_BYTES * id) == ETHERTYPE_BLAST && r.frames < n) {
        if (!r.frames) t0 = rdtsc(), h0 = now_ticks64();
        ++r.frames;
        r.bytes += got;
      }
      rx.avail[2 + (rx.next_avail + k) % QSIZE] = (uint16_t)id;
    }
    rx.last_used = used;
    publish(&rx, fresh, &r.kicks);
  }
  if (r.frames) t_last = rdtsc(), h_last = now_ticks64();
  r.cycles = t_last - t0;
  r.ticks = h_last - h0;
  return r;
}

/* Waits for the host's go-ahead, a received frame with ethertype 0x88b6,
 * returning every other frame uncounted; gives up after `timeout_s`. */
static int wait_go(uint32_t timeout_s) {
  uint64_t deadline = now_ticks64() + (uint64_t)timeout_s * 1000 * TICKS_PER_MS;
  uint32_t idle = 0, kicks = 0;
  for (;;) {
    uint16_t used = rx.used[1];
    uint16_t fresh = (uint16_t)(used - rx.last_used);
    if (!fresh) {
      __asm__ volatile("pause");
      if (++idle == 1u << 16) {
        idle = 0;
        if (now_ticks64() > deadline) return 0;
      }
      continue;
    }
    int go = 0;
    for (uint16_t k = 0; k < fresh; ++k) {
      volatile uint32_t* e = (volatile uint32_t*)(rx.used + 2) + 2 * ((rx.last_used + k) % QSIZE);
      uint32_t id = e[0] % QSIZE;
      if (frame_type(RX_BUFFERS + RX_BUFFER_BYTES * id) == ETHERTYPE_GO) go = 1;
      rx.avail[2 + (rx.next_avail + k) % QSIZE] = (uint16_t)id;
    }
    rx.last_used = used;
    publish(&rx, fresh, &kicks);
    if (go) return 1;
  }
}

static void run_tx(const char* line, const char* key, uint32_t size, uint32_t buffer) {
  uint32_t n = cmdline_number(line, key, 0);
  if (!n) return;
  print("blaster: tx ");
  print_dec(size);
  print(" waiting\n");
  if (!wait_go(cmdline_number(line, "rxtimeout=", 120))) {
    print("blaster: tx ");
    print_dec(size);
    print(" no go\n");
    return;
  }
  struct result r = tx_loop(buffer, size, n);
  report("tx", size, &r);
}

static void run_rx(const char* line, const char* key, uint32_t size) {
  uint32_t n = cmdline_number(line, key, 0);
  if (!n) return;
  print("blaster: rx ");
  print_dec(size);
  print(" posted\n");
  struct result r = rx_loop(size, n, cmdline_number(line, "rxtimeout=", 120));
  if (r.frames < n) {
    print("blaster: rx ");
    print_dec(size);
    print(" timeout frames=");
    print_dec(r.frames);
    print("\n");
    return;
  }
  report("rx", size, &r);
}

/* The TSC's rate against 10 ms of the HPET. */
static uint32_t tsc_khz(void) {
  uint64_t h0 = now_ticks64(), t0 = rdtsc(), h1, t1;
  do h1 = now_ticks64();
  while (h1 - h0 < 10 * TICKS_PER_MS);
  t1 = rdtsc();
  uint64_t cycles = (t1 - t0) * TICKS_PER_MS; /* per ms of HPET ticks */
  uint32_t hi = (uint32_t)(cycles >> 32), lo = (uint32_t)cycles, q, r, d = (uint32_t)(h1 - h0);
  if (hi >= d) return 0;
  __asm__("divl %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "r"(d));
  return q;
}

/* Entry from kernel.s with the kernel's command line: returns 0 once every
 * loop ran, 1 without a usable NIC. */
int blaster_main(const char* cmdline) {
  print("blaster: start\n");
  hpet_start();
  if (!virtio_find_nic("blaster")) {
    print("blaster: no virtio-net NIC found\n");
    return 1;
  }
  if (!nic.modern) {
    print("blaster: needs the modern device 0x1041 (QEMU: virtio-net-pci,disable-legacy=on)\n");
    return 1;
  }
  if (!virtio_begin(F_CSUM | F_HOST_TSO4, F_VERSION_1_HI)) {
    print("blaster: the device refused FEATURES_OK\n");
    return 1;
  }
  ring_init(&rx, RX_RING, RX_QUEUE);
  ring_init(&tx, TX_RING, TX_QUEUE);
  if (!virtio_setup_queue(RX_QUEUE, RX_RING, RX_RING + 0x1000, RX_RING + 0x2000) ||
      !virtio_setup_queue(TX_QUEUE, TX_RING, TX_RING + 0x1000, TX_RING + 0x2000)) {
    print("blaster: the device refused a queue\n");
    return 1;
  }
  rx.notify = virtio_notify_addr(RX_QUEUE);
  tx.notify = virtio_notify_addr(TX_QUEUE);
  for (uint16_t i = 0; i < QSIZE; ++i) {
    rx.desc[i].addr_lo = RX_BUFFERS + RX_BUFFER_BYTES * i;
    rx.desc[i].addr_hi = 0;
    rx.desc[i].len = RX_BUFFER_BYTES;
    rx.desc[i].flags = D_WRITE;
    rx.avail[2 + i] = i;
  }
  rx.next_avail = QSIZE;
  rx.avail[1] = QSIZE;
  virtio_driver_ok();
  MMIO16(rx.notify) = RX_QUEUE;
  int tso = (nic.features_lo & (F_CSUM | F_HOST_TSO4)) == (F_CSUM | F_HOST_TSO4);
  print("blaster: ready tso=");
  print_dec((uint32_t)tso);
  print(" tsc_khz=");
  print_dec(tsc_khz());
  print("\n");

  make_plain(TX_SMALL, SMALL_FRAME);
  make_plain(TX_MTU, MTU_FRAME);
  uint32_t probe_loops = cmdline_number(cmdline, "ring3probe=", 0);
  if (probe_loops) {
    for (uint16_t i = 0; i < QSIZE; ++i) set_desc((struct desc*)&tx.desc[i], TX_SMALL, 12 + SMALL_FRAME, 0, 0);
    for (uint16_t i = 0; i < QSIZE; ++i) tx.avail[2 + i] = i;
    ring3_probe(tx.notify, probe_loops, cmdline_number(cmdline, "ring3kicks=", 1000), &tx.avail[1], &tx.used[1]);
    uint32_t spin = 0;
    while (tx.used[1] != tx.avail[1] && ++spin < (1u << 30)) __asm__ volatile("pause");
    tx.next_avail = tx.avail[1];
    tx.last_used = tx.used[1];
  }
  run_tx(cmdline, "tx64=", SMALL_FRAME, TX_SMALL);
  run_tx(cmdline, "tx1500=", MTU_FRAME, TX_MTU);
  if (tso) {
    make_tso(TX_TSO);
    run_tx(cmdline, "tso=", TSO_FRAME, TX_TSO);
  }
  run_rx(cmdline, "rx64=", SMALL_FRAME);
  run_rx(cmdline, "rx1500=", MTU_FRAME);
  print("blaster: end waiting\n"); /* the VMM stays up until the host has sampled it */
  wait_go(cmdline_number(cmdline, "rxtimeout=", 120));
  virtio_set_status(0);
  print("blaster: done\n");
  return 0;
}
