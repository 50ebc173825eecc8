/* The virtio-pci NIC (virtio_pci.h): discovery, status, features, queues. */
#include "virtio_pci.h"

#include "hw.h"

struct virtio_nic nic;

/* Modern common configuration offsets. */
enum {
  C_DFSEL = 0x00,
  C_DF = 0x04,
  C_GFSEL = 0x08,
  C_GF = 0x0c,
  C_STATUS = 0x14,
  C_QSEL = 0x16,
  C_QSIZE = 0x18,
  C_QENABLE = 0x1c,
  C_QNOTIFY_OFF = 0x1e,
  C_QDESC = 0x20,
  C_QDRIVER = 0x28,
  C_QDEVICE = 0x30,
};
/* Legacy I/O registers. */
enum {
  L_HOST_F = 0x00,
  L_GUEST_F = 0x04,
  L_PFN = 0x08,
  L_QNUM = 0x0c,
  L_QSEL = 0x0e,
  L_NOTIFY = 0x10,
  L_STATUS = 0x12
};

int virtio_find_nic(const char* who) {
  for (uint32_t dev = 0; dev < 32; ++dev) {
    uint32_t id = pci_read32(dev, 0);
    if ((id & 0xffff) != 0x1af4) continue;
    uint32_t device = id >> 16;
    if (device != 0x1041 && device != 0x1000) continue;
    pci_write16(dev, 0x04, 0x7); /* I/O, memory, bus master */
    nic.modern = device == 0x1041;
    if (!nic.modern) {
      nic.io = (uint16_t)bar_address(dev, 0);
      nic.hdr_len = 10; /* legacy without MRG_RXBUF */
      print(who);
      print(": transitional NIC at slot ");
      print_dec(dev);
      print(", legacy I/O BAR\n");
      return nic.io != 0;
    }
    nic.hdr_len = 12;
    for (uint32_t cap = pci_read8(dev, 0x34) & 0xfc; cap; cap = pci_read8(dev, cap + 1) & 0xfc) {
      if (pci_read8(dev, cap) != 0x09) continue;
      uint32_t type = pci_read8(dev, cap + 3);
      uint32_t base = bar_address(dev, pci_read8(dev, cap + 4));
      uint32_t where = base + pci_read32(dev, cap + 8);
      if (!base) continue;
      if (type == 1) nic.common = where;
      if (type == 2) {
        nic.notify = where;
        nic.notify_mult = pci_read32(dev, cap + 16);
      }
      if (type == 3) nic.isr = where;
    }
    print(who);
    print(": modern NIC at slot ");
    print_dec(dev);
    print(", capabilities in a memory BAR\n");
    return nic.common && nic.notify;
  }
  return 0;
}

uint8_t virtio_status(void) { return nic.modern ? MMIO8(nic.common + C_STATUS) : inb(nic.io + L_STATUS); }
void virtio_set_status(uint8_t v) {
  if (nic.modern)
    MMIO8(nic.common + C_STATUS) = v;
  else
    outb(nic.io + L_STATUS, v);
}
void virtio_select_queue(uint16_t q) {
  if (nic.modern)
    MMIO16(nic.common + C_QSEL) = q;
  else
    outw(nic.io + L_QSEL, q);
}
uint16_t virtio_queue_size(uint16_t q) {
  virtio_select_queue(q);
  return nic.modern ? MMIO16(nic.common + C_QSIZE) : inw(nic.io + L_QNUM);
}
void virtio_write_queue_size(uint16_t q, uint16_t size) {
  virtio_select_queue(q);
  if (nic.modern)
    MMIO16(nic.common + C_QSIZE) = size;
  else
    outw(nic.io + L_QNUM, size);
}

int virtio_begin(uint32_t want_lo, uint32_t want_hi) {
  virtio_set_status(0);
  for (int i = 0; i < 1000 && virtio_status() != 0; ++i) {
  }
  virtio_set_status(S_ACK);
  virtio_set_status(S_ACK | S_DRIVER);
  if (!nic.modern) {
    nic.features_lo = inl(nic.io + L_HOST_F) & want_lo;
    nic.features_hi = 0;
    outl(nic.io + L_GUEST_F, nic.features_lo);
    return 1;
  }
  MMIO32(nic.common + C_DFSEL) = 0;
  nic.features_lo = MMIO32(nic.common + C_DF) & want_lo;
  MMIO32(nic.common + C_DFSEL) = 1;
  nic.features_hi = MMIO32(nic.common + C_DF) & (want_hi | F_VERSION_1_HI);
  MMIO32(nic.common + C_GFSEL) = 0;
  MMIO32(nic.common + C_GF) = nic.features_lo;
  MMIO32(nic.common + C_GFSEL) = 1;
  MMIO32(nic.common + C_GF) = nic.features_hi;
  virtio_set_status(S_ACK | S_DRIVER | S_FEATURES_OK);
  return (virtio_status() & S_FEATURES_OK) != 0;
}

void virtio_driver_ok(void) { virtio_set_status(virtio_status() | S_DRIVER_OK); }

int virtio_setup_queue(uint16_t q, uint32_t desc, uint32_t avail, uint32_t used) {
  virtio_select_queue(q);
  if (!nic.modern) {
    outl(nic.io + L_PFN, desc >> 12); /* avail and used follow at the legacy offsets */
    return inl(nic.io + L_PFN) == desc >> 12;
  }
  MMIO32(nic.common + C_QDESC) = desc;
  MMIO32(nic.common + C_QDESC + 4) = 0;
  MMIO32(nic.common + C_QDRIVER) = avail;
  MMIO32(nic.common + C_QDRIVER + 4) = 0;
  MMIO32(nic.common + C_QDEVICE) = used;
  MMIO32(nic.common + C_QDEVICE + 4) = 0;
  MMIO16(nic.common + C_QENABLE) = 1;
  return MMIO16(nic.common + C_QENABLE) == 1;
}

uint32_t virtio_notify_addr(uint16_t q) {
  virtio_select_queue(q);
  return nic.notify + MMIO16(nic.common + C_QNOTIFY_OFF) * nic.notify_mult;
}

void virtio_notify(uint16_t q) {
  if (!nic.modern) {
    outw(nic.io + L_NOTIFY, q);
    return;
  }
  MMIO16(virtio_notify_addr(q)) = q;
}
