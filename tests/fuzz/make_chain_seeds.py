#!/usr/bin/env python3
"""Writes the seed corpus for chain_fuzz (tests/fuzz/corpus/chain/).

Each seed is the 16-byte header described in chain_fuzz.cc followed by a
guest memory image holding the rings and indirect tables. Run it again only
if the header format changes:  python3 tests/fuzz/make_chain_seeds.py
"""
import os
import struct

NEXT, WRITE, INDIRECT = 1, 2, 4
DESC, AVAIL, USED = 0x100, 0x400, 0x800


class Seed:
    def __init__(self, size_log2, flags=0, next_avail=0, write_offset=0):
        self.size = 1 << size_log2
        self.header = struct.pack("<BBHHHHHHH", size_log2, flags, DESC, AVAIL, USED,
                                  next_avail, next_avail, write_offset, 0)
        self.mem = bytearray(0x1000)

    def put(self, addr, data):
        end = addr + len(data)
        if end > len(self.mem):
            self.mem.extend(bytes(end - len(self.mem)))
        self.mem[addr:end] = data

    def desc(self, index, addr, length, flags=0, nxt=0, table=DESC):
        self.put(table + 16 * index, struct.pack("<QIHH", addr, length, flags, nxt))

    def publish(self, heads, start=0):
        for i, head in enumerate(heads):
            self.put(AVAIL + 4 + 2 * ((start + i) % self.size), struct.pack("<H", head))
        self.put(AVAIL + 2, struct.pack("<H", (start + len(heads)) & 0xffff))

    def used_event(self, value):
        self.put(AVAIL + 4 + 2 * self.size, struct.pack("<H", value))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.header + bytes(self.mem))


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "chain")
    os.makedirs(out, exist_ok=True)

    s = Seed(3)  # two direct chains; the second straddles the region boundary at 0x8000
    s.desc(0, 0x1000, 64, NEXT, 1)
    s.desc(1, 0x2000, 128, WRITE)
    s.desc(2, 0x7ff0, 0x20, NEXT, 3)
    s.desc(3, 0x20000, 0x100, WRITE)
    s.publish([0, 2])
    s.write(os.path.join(out, "direct"))

    s = Seed(3, write_offset=8)  # indirect table of three entries
    s.desc(0, 0xC00, 48, INDIRECT)
    s.desc(0, 0x1000, 16, NEXT, 1, table=0xC00)
    s.desc(1, 0x1100, 16, WRITE | NEXT, 2, table=0xC00)
    s.desc(2, 0x1200, 16, WRITE, table=0xC00)
    s.publish([0])
    s.write(os.path.join(out, "indirect"))

    s = Seed(2)  # A -> B -> A loop
    s.desc(0, 0x1000, 8, NEXT, 1)
    s.desc(1, 0x1000, 8, NEXT, 0)
    s.publish([0])
    s.write(os.path.join(out, "loop"))

    s = Seed(4, flags=1 | 2 | 4, next_avail=0xfffe)  # EVENT_IDX, undo_pop, wrap at 65535
    for i in range(6):
        s.desc(i, 0x2000 + 0x100 * i, 0x40, WRITE)
    s.publish(list(range(6)), start=0xfffe)
    s.used_event(0x0001)
    s.write(os.path.join(out, "event_idx_wrap"))

    s = Seed(3)  # nested indirect and a writable-before-readable chain
    s.desc(0, 0xC00, 16, INDIRECT)
    s.desc(0, 0xD00, 16, INDIRECT, table=0xC00)
    s.desc(1, 0x1000, 8, WRITE | NEXT, 2)
    s.desc(2, 0x1000, 8, 0)
    s.publish([1, 0])
    s.write(os.path.join(out, "bad_chains"))


if __name__ == "__main__":
    main()
