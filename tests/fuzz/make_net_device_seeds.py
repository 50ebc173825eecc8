#!/usr/bin/env python3
"""Writes the seed corpus of net_device_fuzz (tests/fuzz/corpus/net_device/).

Each seed is a recorded session of what a Linux virtio_net driver does, in the
record format of net_device_fuzz.cc: reset, feature negotiation, queue setup,
DRIVER_OK, receive buffers posted, frames sent (direct, indirect, fragmented),
control commands (RX_PROMISC, MAC_TABLE_SET, VLAN_ADD, ...) and frames coming
in from the TAP, with event loop turns in between.
"""
import os
import struct
import sys

(COMMON_WRITE, BAR_READ, DEVCFG_WRITE, KICK, MEM_WRITE, DESC_RUN, AVAIL_PUSH, RESET, FRAME, RUN,
 PCI_CONFIG_WRITE, MSIX_WRITE, HOST, BRING_UP) = range(14)
W1, W2, W4, W8 = range(4)

NEXT, WRITE, INDIRECT = 1, 2, 4

# Feature bits (virtio 1.2 and linux/virtio_net.h).
CSUM, GUEST_CSUM, CTRL_GUEST_OFFLOADS, MAC = 0, 1, 2, 5
GUEST_TSO4, GUEST_TSO6, HOST_TSO4, HOST_TSO6, HOST_ECN = 7, 8, 11, 12, 13
MRG_RXBUF, STATUS, CTRL_VQ, CTRL_RX, CTRL_VLAN, CTRL_RX_EXTRA, GUEST_ANNOUNCE, MQ, CTRL_MAC_ADDR = range(15, 24)
INDIRECT_DESC, EVENT_IDX, VERSION_1 = 28, 29, 32

OWN_MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
PEER_MAC = bytes([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef])
BROADCAST = b'\xff' * 6

QSIZE = 256
RING_BASE = 0x10000   # queue q: descriptors at RING_BASE + q * 0x4000, avail +0x1000, used +0x2000
BUF_BASE = 0x100000   # buffers and indirect tables above 1 MiB


def bits(*b):
    return sum(1 << x for x in b)


def common(offset, width, value):
    return struct.pack('<BBBQ', COMMON_WRITE, width, offset, value)


def bar_read(offset, width):
    return struct.pack('<BBH', BAR_READ, width, offset)


def kick(q):
    return struct.pack('<BB', KICK, q)


def run():
    return struct.pack('<B', RUN)


def mem_write(gpa, data):
    out = b''
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += struct.pack('<BIB', MEM_WRITE, gpa + i, len(chunk)) + chunk
    return out


def desc_run(table, first, count, addr, length, flags, stride):
    return struct.pack('<BIHHQIHH', DESC_RUN, table, first, count, addr, length, flags, stride)


def avail_push(avail, head):
    return struct.pack('<BIBH', AVAIL_PUSH, avail, QSIZE.bit_length() - 1, head)


def frame_in(pair, data):
    return struct.pack('<BBHH', FRAME, pair, len(data), len(data)) + data


def host(sub):
    return struct.pack('<BB', HOST, sub)


def desc_table(q):
    return RING_BASE + q * 0x4000


def avail_ring(q):
    return desc_table(q) + 0x1000


def used_ring(q):
    return desc_table(q) + 0x2000


class Driver:
    """The driver side: which descriptors and buffer space are free."""

    def __init__(self):
        self.next_desc = {}
        self.next_buf = BUF_BASE

    def alloc(self, n):
        at = self.next_buf
        self.next_buf += (n + 63) & ~63
        return at

    def descs(self, q, n):
        first = self.next_desc.get(q, 0)
        self.next_desc[q] = (first + n) % QSIZE
        return first


def bring_up(features, queues, msix=False):
    """The driver's initialisation as one BRING_UP record (the fuzzer does the register writes)."""
    return struct.pack('<BQBB', BRING_UP, features, queues, 1 if msix else 0)


def bring_up_registers(features, queues, msix=False):
    """The same, register by register, with the reads a Linux driver makes in between."""
    s = common(20, W1, 0)                       # reset
    s += common(20, W1, 1)                      # ACKNOWLEDGE
    s += common(20, W1, 3)                      # DRIVER
    for sel in (0, 1):
        s += common(0, W4, sel) + bar_read(4, W2)
    s += common(8, W4, 0) + common(12, W4, features & 0xffffffff)
    s += common(8, W4, 1) + common(12, W4, features >> 32)
    s += common(20, W1, 0xb)                    # FEATURES_OK
    s += bar_read(20, W1)
    if msix:
        s += struct.pack('<BBBI', PCI_CONFIG_WRITE, W2, 0x9a, 0x8000)   # MSI-X enable (capability at 0x98)
        for v in range(queues + 1):
            s += struct.pack('<BBHQ', MSIX_WRITE, W4, v * 16, 0xfee00000)
            s += struct.pack('<BBHQ', MSIX_WRITE, W4, v * 16 + 8, 0x30 + v)
            s += struct.pack('<BBHQ', MSIX_WRITE, W4, v * 16 + 12, 0)
        s += common(16, W2, 0)                  # config vector 0
    for q in range(queues):
        s += common(22, W2, q) + bar_read(24, W2)
        s += common(24, W2, QSIZE)
        if msix:
            s += common(26, W2, q + 1)
        s += common(32, W8, desc_table(q))
        s += common(40, W8, avail_ring(q))
        s += common(48, W8, used_ring(q))
        s += bar_read(30, W2)                   # queue_notify_off
        s += common(28, W2, 1)
    s += bar_read(0x2000, W4) + bar_read(0x2004, W2)   # MAC
    s += bar_read(0x2006, W2)                           # status
    s += common(20, W1, 0xf)                    # DRIVER_OK
    return s


def post_rx(drv, q, count, size):
    first = drv.descs(q, count)
    buf = drv.alloc(count * size)
    s = desc_run(desc_table(q), first, count, buf, size, WRITE, size)
    for i in range(count):
        s += avail_push(avail_ring(q), first + i)
    return s + kick(q)


def vnet_header(flags=0, gso=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0, num_buffers=0):
    return struct.pack('<BBHHHHH', flags, gso, hdr_len, gso_size, csum_start, csum_offset, num_buffers)


def ethernet(dst, src, ethertype, payload):
    return dst + src + struct.pack('>H', ethertype) + payload


def ipv4_udp(n):
    total = 20 + 8 + n
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, total, 1, 0, 64, 17, 0, bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1]))
    return ip + struct.pack('>HHHH', 1234, 5678, 8 + n, 0) + bytes(range(n % 256)) + bytes(max(0, n - 256))


def tx_direct(drv, q, frame):
    """Header and frame in one buffer (VERSION_1 drivers push the header into the skb head)."""
    buf = drv.alloc(len(frame))
    head = drv.descs(q, 1)
    return mem_write(buf, frame) + desc_run(desc_table(q), head, 1, buf, len(frame), 0, 0) + \
        avail_push(avail_ring(q), head) + kick(q)


def tx_indirect(drv, q, header, frags):
    """An indirect table: the header, then each fragment (a Linux skb with page frags)."""
    table = drv.alloc(16 * (1 + len(frags)))
    hbuf = drv.alloc(len(header))
    s = mem_write(hbuf, header) + desc_run(table, 0, 1, hbuf, len(header), NEXT, 0)
    # desc_run clears NEXT on the last descriptor of a run: re-set it by hand below.
    s += mem_write(table + 12, struct.pack('<HH', NEXT, 1))
    frag_len = len(frags[0])
    fbuf = drv.alloc(frag_len * len(frags))
    for i, f in enumerate(frags):
        nonzero = f.rstrip(b'\0')   # guest RAM starts zeroed: write only what differs
        if nonzero:
            s += mem_write(fbuf + i * frag_len, nonzero)
    s += desc_run(table, 1, len(frags), fbuf, frag_len, NEXT, frag_len)
    head = drv.descs(q, 1)
    s += desc_run(desc_table(q), head, 1, table, 16 * (1 + len(frags)), INDIRECT, 0)
    return s + avail_push(avail_ring(q), head) + kick(q)


def ctrl(drv, q, cls, cmd, *data):
    """Linux's virtnet_send_command: header, data buffers, status byte, all direct."""
    n = 2 + len(data)
    first = drv.descs(q, n)
    hdr = drv.alloc(2)
    s = mem_write(hdr, bytes([cls, cmd]))
    s += desc_run(desc_table(q), first, 1, hdr, 2, NEXT, 0)
    s += mem_write(desc_table(q) + 16 * first + 12, struct.pack('<HH', NEXT, (first + 1) % QSIZE))
    for i, d in enumerate(data):
        buf = drv.alloc(len(d))
        idx = (first + 1 + i) % QSIZE
        s += mem_write(buf, d)
        s += desc_run(desc_table(q), idx, 1, buf, len(d), NEXT, 0)
        s += mem_write(desc_table(q) + 16 * idx + 12, struct.pack('<HH', NEXT, (idx + 1) % QSIZE))
    status = drv.alloc(1)
    s += desc_run(desc_table(q), (first + n - 1) % QSIZE, 1, status, 1, WRITE, 0)
    return s + avail_push(avail_ring(q), first) + kick(q) + run()


def mac_table(unicast, multicast):
    return (struct.pack('<I', len(unicast)) + b''.join(unicast),
            struct.pack('<I', len(multicast)) + b''.join(multicast))


LINUX = bits(VERSION_1, MAC, STATUS, MRG_RXBUF, CTRL_VQ, CTRL_RX, CTRL_VLAN, CTRL_RX_EXTRA, GUEST_ANNOUNCE,
             CSUM, GUEST_CSUM, CTRL_GUEST_OFFLOADS, GUEST_TSO4, GUEST_TSO6, HOST_TSO4, HOST_TSO6, HOST_ECN,
             INDIRECT_DESC, EVENT_IDX)


def single_queue_session():
    """One queue pair (no MQ): rx 0, tx 1, control 2; bring-up register by register."""
    drv = Driver()
    s = bring_up_registers(LINUX, 3)
    s += post_rx(drv, 0, 32, 1536)
    s += run()
    udp = ethernet(PEER_MAC, OWN_MAC, 0x0800, ipv4_udp(64))
    s += tx_direct(drv, 1, vnet_header() + udp)
    s += tx_direct(drv, 1, vnet_header(flags=1, csum_start=34, csum_offset=6) + udp)   # NEEDS_CSUM
    s += run()
    s += ctrl(drv, 2, 0, 0, b'\x01')                                         # RX_PROMISC on
    s += ctrl(drv, 2, 0, 1, b'\x00')                                         # RX_ALLMULTI off
    s += ctrl(drv, 2, 1, 0, *mac_table([PEER_MAC], [bytes([0x01, 0, 0x5e, 0, 0, 1])]))   # MAC_TABLE_SET
    s += ctrl(drv, 2, 2, 0, struct.pack('<H', 100))                          # VLAN_ADD 100
    s += ctrl(drv, 2, 0, 0, b'\x00')                                         # RX_PROMISC off
    arp = ethernet(BROADCAST, PEER_MAC, 0x0806, bytes(28))
    s += frame_in(0, vnet_header() + arp)
    s += frame_in(0, vnet_header() + ethernet(OWN_MAC, PEER_MAC, 0x0800, ipv4_udp(100)))
    s += frame_in(0, vnet_header() + ethernet(PEER_MAC, OWN_MAC, 0x0800, ipv4_udp(10)))  # not ours
    s += run() + kick(0) + run()
    return s


def multi_queue_session():
    """Two queue pairs with MQ, MSI-X, MAC change: control queue 4, VQ_PAIRS_SET 2."""
    drv = Driver()
    s = bring_up(LINUX | bits(MQ, CTRL_MAC_ADDR), 5, msix=True)
    s += ctrl(drv, 4, 4, 0, struct.pack('<H', 2))                            # MQ VQ_PAIRS_SET 2
    s += post_rx(drv, 0, 16, 1536) + post_rx(drv, 2, 16, 1536)
    s += ctrl(drv, 4, 1, 1, PEER_MAC)                                        # MAC_ADDR_SET
    s += ctrl(drv, 4, 5, 0, struct.pack('<Q', bits(GUEST_CSUM)))             # GUEST_OFFLOADS_SET
    udp = ethernet(BROADCAST, PEER_MAC, 0x0800, ipv4_udp(200))
    s += tx_direct(drv, 1, vnet_header() + udp) + tx_direct(drv, 3, vnet_header() + udp)
    s += frame_in(0, vnet_header() + ethernet(PEER_MAC, OWN_MAC, 0x0800, ipv4_udp(300)))
    s += frame_in(1, vnet_header() + ethernet(BROADCAST, OWN_MAC, 0x0806, bytes(28)))
    s += run()
    s += host(0) + host(1) + host(2) + run()                                 # link flap, announce
    s += ctrl(drv, 4, 3, 0)                                                  # ANNOUNCE_ACK
    s += host(4) + host(3) + run()                                           # save/restore, query
    return s


def tso_session():
    """A 16-fragment TSO frame through an indirect table (Linux with INDIRECT_DESC), then a reset."""
    drv = Driver()
    s = bring_up(LINUX, 3)
    s += post_rx(drv, 0, 8, 1536)
    tcp_head = ethernet(PEER_MAC, OWN_MAC, 0x0800, bytes(40))
    header = vnet_header(flags=1, gso=1, hdr_len=54, gso_size=1448, csum_start=34, csum_offset=16)
    frags = [tcp_head + bytes(4096 - len(tcp_head))] + [bytes(4096)] * 15
    s += tx_indirect(drv, 1, header, frags)
    s += run()
    s += struct.pack('<B', RESET) + run()
    for q in range(3):   # fresh, zeroed rings for the second bring-up, as Linux allocates them
        s += mem_write(avail_ring(q), bytes(4)) + mem_write(used_ring(q), bytes(4))
    s += bring_up(LINUX, 3)
    s += tx_indirect(Driver(), 1, vnet_header(), [ethernet(PEER_MAC, OWN_MAC, 0x0800, ipv4_udp(18))])
    s += run()
    return s


def mergeable_rx_session():
    """Big incoming frames spread over several small MRG_RXBUF buffers; a starved queue refilled."""
    drv = Driver()
    s = bring_up(LINUX, 3)
    s += post_rx(drv, 0, 4, 512)
    big = vnet_header() + ethernet(OWN_MAC, PEER_MAC, 0x0800, ipv4_udp(1400))
    s += frame_in(0, big) + frame_in(0, big) + run()
    s += post_rx(drv, 0, 8, 512) + run()
    s += frame_in(0, b'') + run()   # an empty read
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'net_device')
    os.makedirs(out, exist_ok=True)
    seeds = {
        'linux_single_queue': single_queue_session(),
        'linux_multi_queue_msix': multi_queue_session(),
        'linux_tso_indirect_reset': tso_session(),
        'linux_mergeable_rx': mergeable_rx_session(),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
