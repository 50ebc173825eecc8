#!/usr/bin/env python3
"""Writes the seed corpus of transport_fuzz (tests/fuzz/corpus/transport/).

Each seed is a sequence of 12-byte operations (see transport_fuzz.cc):
u8 kind, u8 width code, u16 offset, u64 value.
"""
import os
import struct
import sys

MODERN, TRANSITIONAL = 0, 1
BAR4, MSIX, LEGACY, CONFIG, CF8, ECAM, HOST, BUSIO = range(8)
W1, W2, W4, W8 = range(4)


def op(target, write, dev, width, offset, value, sub=0):
    kind = target | (8 if write else 0) | (dev << 4) | (sub << 5)
    return struct.pack('<BBHQ', kind, width, offset & 0xffff, value & 0xffffffffffffffff)


def mem_write(dev, gpa, value, width=W8):
    return op(HOST, True, dev, width, gpa, value, sub=3)


def chain_in_ram(desc, avail, buf):
    """One writable descriptor at `desc`, published in the avail ring at `avail`."""
    s = mem_write(0, desc, buf)                            # addr
    s += mem_write(0, desc + 8, 64 | (2 << 32), W8)        # len 64, flags WRITE, next 0
    s += mem_write(0, avail, 0 | (1 << 16), W4)            # flags 0, idx 1
    s += mem_write(0, avail + 4, 0, W2)                    # ring[0] = head 0
    return s


def modern_bringup(dev, with_msix):
    s = b''
    if with_msix:
        s += op(CONFIG, True, dev, W2, 0x9a, 0x8000)  # MSI-X control (capability at 0x98)
        for v in range(3):
            s += op(MSIX, True, dev, W4, v * 16, 0xfee00000)
            s += op(MSIX, True, dev, W4, v * 16 + 8, 0x20 + v)
            s += op(MSIX, True, dev, W4, v * 16 + 12, 0)
    s += op(BAR4, True, dev, W1, 20, 1)
    s += op(BAR4, True, dev, W1, 20, 3)
    s += op(BAR4, True, dev, W4, 8, 0)
    s += op(BAR4, True, dev, W4, 12, 1 << 29)               # EVENT_IDX
    s += op(BAR4, True, dev, W4, 8, 1)
    s += op(BAR4, True, dev, W4, 12, 1)                     # VERSION_1
    s += op(BAR4, True, dev, W1, 20, 0xb)                   # FEATURES_OK
    s += op(BAR4, True, dev, W2, 16, 0)                     # msix_config
    s += op(BAR4, True, dev, W2, 22, 0)                     # queue_select
    s += op(BAR4, True, dev, W2, 24, 16)
    s += op(BAR4, True, dev, W2, 26, 1)
    s += op(BAR4, True, dev, W8, 32, 0x1000)
    s += op(BAR4, True, dev, W8, 40, 0x1100)
    s += op(BAR4, True, dev, W8, 48, 0x1200)
    s += op(BAR4, True, dev, W2, 28, 1)
    s += op(BAR4, True, dev, W1, 20, 0xf)                   # DRIVER_OK
    s += chain_in_ram(0x1000, 0x1100, 0x2000)
    s += op(BAR4, True, dev, W2, 0x3000, 0)                 # kick queue 0
    s += op(BAR4, False, dev, W1, 0x1000, 0)                # ISR
    return s


def legacy_bringup():
    d = TRANSITIONAL
    s = op(LEGACY, True, d, W1, 18, 1)
    s += op(LEGACY, True, d, W1, 18, 3)
    s += op(LEGACY, False, d, W4, 0, 0)
    s += op(LEGACY, True, d, W4, 4, 1)
    s += op(LEGACY, True, d, W2, 14, 0)
    s += op(LEGACY, True, d, W4, 8, 4)                      # PFN 4 -> rings at 0x4000
    s += op(LEGACY, True, d, W1, 18, 7)                     # DRIVER_OK
    s += chain_in_ram(0x4000, 0x4000 + 16 * 16, 0x6000)
    s += op(LEGACY, True, d, W2, 16, 0)                     # notify queue 0
    s += op(LEGACY, False, d, W1, 19, 0)                    # ISR
    s += op(LEGACY, False, d, W4, 20, 0)                    # device config
    return s


def pci_config_walk():
    s = b''
    for slot in range(4):
        s += op(CF8, True, 0, W4, 0, 0x80000000 | (slot << 11))
        s += op(CF8, False, 0, W4, 4, 0)
        s += op(CF8, False, 0, W2, 6, 0)
        s += op(CF8, False, 0, W1, 7, 0)
    s += op(ECAM, False, 0, W4, (1 << 12) | 0x34, 0)
    s += op(ECAM, False, 0, W4, (2 << 12) | 0x10, 0, sub=0)
    s += op(ECAM, False, 0, W4, 0, 0, sub=3)                # bus 3: all-ones
    # Size and move BAR4 of the modern device, toggle decode.
    s += op(CONFIG, True, MODERN, W2, 4, 0)
    s += op(CONFIG, True, MODERN, W4, 0x20, 0xffffffff)
    s += op(CONFIG, False, MODERN, W4, 0x20, 0)
    s += op(CONFIG, True, MODERN, W4, 0x20, 0xd0000000)
    s += op(CONFIG, True, MODERN, W4, 0x24, 0)
    s += op(CONFIG, True, MODERN, W2, 4, 7)
    s += op(BUSIO, False, MODERN, W2, 18, 0, sub=4)         # num_queues via the moved BAR
    s += op(BUSIO, True, MODERN, W2, 0x3004, 1, sub=4)      # notify through the bus
    # VIRTIO_PCI_CAP_PCI_CFG window (capability at 0x84): read num_queues, write status.
    s += op(CONFIG, True, TRANSITIONAL, W1, 0x88, 4)        # bar
    s += op(CONFIG, True, TRANSITIONAL, W4, 0x8c, 18)       # offset: num_queues
    s += op(CONFIG, True, TRANSITIONAL, W4, 0x90, 2)        # length
    s += op(CONFIG, False, TRANSITIONAL, W4, 0x94, 0)       # data
    s += op(CONFIG, True, TRANSITIONAL, W4, 0x8c, 20)
    s += op(CONFIG, True, TRANSITIONAL, W4, 0x90, 1)
    s += op(CONFIG, True, TRANSITIONAL, W1, 0x94, 1)        # device_status = ACKNOWLEDGE
    return s


def host_events():
    s = modern_bringup(MODERN, False)
    s += op(HOST, True, MODERN, W1, 0, 0, sub=0)
    s += op(HOST, True, MODERN, W1, 0, 0, sub=1)
    s += op(HOST, True, MODERN, W1, 0, 0, sub=5)            # save + restore while active
    s += op(HOST, True, MODERN, W1, 0, 0, sub=2)
    s += op(HOST, True, MODERN, W1, 0, 0, sub=4)            # bus reset
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'transport')
    os.makedirs(out, exist_ok=True)
    seeds = {
        'modern_intx': modern_bringup(MODERN, False),
        'modern_msix': modern_bringup(MODERN, True),
        'transitional_modern': modern_bringup(TRANSITIONAL, False),
        'legacy': legacy_bringup(),
        'pci_config': pci_config_walk(),
        'host_events': host_events(),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
