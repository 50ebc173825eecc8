/* A virtio-net NIC on PCI bus 0 for the multiboot test kernel's C modes:
 * found by vendor and device id, driven through the modern virtio-pci
 * capabilities (device 0x1041) or the legacy I/O BAR (transitional 0x1000).
 * Polled: no interrupts are ever enabled. */
#ifndef WREN_MULTIBOOT_TEST_VIRTIO_PCI_H
#define WREN_MULTIBOOT_TEST_VIRTIO_PCI_H
#include <stdint.h>

enum {
  S_ACK = 1,
  S_DRIVER = 2,
  S_DRIVER_OK = 4,
  S_FEATURES_OK = 8,
  S_NEEDS_RESET = 0x40,
};
/* Feature bits 0-31 */
#define F_CSUM (1u << 0)
#define F_HOST_TSO4 (1u << 11)
#define F_MRG_RXBUF (1u << 15)
#define F_INDIRECT (1u << 28)
/* Feature bits 32-63, as bits of the high word */
#define F_VERSION_1_HI 1u /* bit 32 */

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY 1

struct desc {
  uint32_t addr_lo, addr_hi, len;
  uint16_t flags, next;
};

struct virtio_nic {
  int modern;
  /* modern: virtio-pci capability windows */
  uint32_t common, notify, isr, notify_mult;
  /* transitional: legacy I/O BAR */
  uint16_t io;
  uint32_t hdr_len;                  /* virtio-net header bytes: 12 (VERSION_1 or MRG_RXBUF), else 10 */
  uint32_t features_lo, features_hi; /* negotiated by virtio_begin */
};
extern struct virtio_nic nic;

/* Finds the first virtio-net function (0x1041 or 0x1000), enables I/O,
 * memory and bus mastering, and fills `nic`. Prints "<who>: modern NIC at
 * slot N, ..." or "<who>: transitional NIC ...". Returns 0 without one. */
int virtio_find_nic(const char* who);

uint8_t virtio_status(void);
void virtio_set_status(uint8_t v);
void virtio_select_queue(uint16_t q);
uint16_t virtio_queue_size(uint16_t q);
/* Writes `size` to the queue-size register (read-only on legacy). */
void virtio_write_queue_size(uint16_t q, uint16_t size);
/* Status 0, then ACKNOWLEDGE | DRIVER and the offered subset of the wanted
 * features (VERSION_1 on modern; legacy has no high word), then
 * FEATURES_OK on modern. Returns 0 if the device refused FEATURES_OK. */
int virtio_begin(uint32_t want_lo, uint32_t want_hi);
void virtio_driver_ok(void);
/* Places queue q's rings and enables it; returns whether the device took it
 * (queue_enable reads 1, or the legacy PFN reads back). Legacy rings are at
 * the fixed offsets after `desc`. */
int virtio_setup_queue(uint16_t q, uint32_t desc, uint32_t avail, uint32_t used);
/* Kicks queue q. */
void virtio_notify(uint16_t q);
/* Queue q's notify address (modern only): one MMIO write of q kicks it. */
uint32_t virtio_notify_addr(uint16_t q);

static inline void set_desc(struct desc* d, uint32_t addr, uint32_t len, uint16_t flags, uint16_t next) {
  d->addr_lo = addr;
  d->addr_hi = 0;
  d->len = len;
  d->flags = flags;
  d->next = next;
}

#endif
