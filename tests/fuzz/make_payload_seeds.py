#!/usr/bin/env python3
"""Writes the seed corpus for payload_fuzz (tests/fuzz/corpus/payload/).

Seeds are built from the golden payload files (tests/golden/*.bin), so they
follow the format as committed. Each seed is a mode byte (see payload_fuzz.cc)
then data:
  mode 0/1: one state section holding every golden payload (each kind at its
            newest version only) followed by a page batch
  mode 2:   kind index, version, payload body (one seed per golden file)
  mode 3:   a page batch with a data page and a zero run
Run it again after adding golden files:  python3 tests/fuzz/make_payload_seeds.py
"""
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
OUT = os.path.join(HERE, "corpus", "payload")


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def parse_section(data):
    """The payloads of a state section: [(kind, instance, version, body)]."""
    count = struct.unpack_from("<I", data, 12)[0]
    at, entries = 16, []
    for _ in range(count):
        n = data[at]; kind = data[at + 1:at + 1 + n].decode(); at += 1 + n
        n = data[at]; inst = data[at + 1:at + 1 + n].decode(); at += 1 + n
        version, length = struct.unpack_from("<II", data, at); at += 8
        entries.append((kind, inst, version, length))
    at += 4  # header CRC
    out = []
    for kind, inst, version, length in entries:
        out.append((kind, inst, version, data[at:at + length]))
        at += length
    return out


def section(payloads):
    header = b"WRENSNAP" + struct.pack("<II", 1, len(payloads))
    for kind, inst, version, body in payloads:
        header += bytes([len(kind)]) + kind.encode() + bytes([len(inst)]) + inst.encode()
        header += struct.pack("<II", version, len(body))
    head = header + struct.pack("<I", crc32c(header))
    whole = head + b"".join(p[3] for p in payloads)
    return whole + struct.pack("<I", crc32c(whole))


def page_batch(records, data_pages, zero_pages):
    body = b"".join(records) + bytes([0]) + struct.pack("<QQ", data_pages, zero_pages)
    return body + struct.pack("<I", crc32c(body))


def main():
    os.makedirs(OUT, exist_ok=True)
    payloads = []
    for path in sorted(glob.glob(os.path.join(GOLDEN, "*.bin"))):
        with open(path, "rb") as f:
            payloads += parse_section(f.read())
    kinds = sorted({p[0] for p in payloads})  # the registry lists kinds sorted too

    # The golden layout is 4 GiB; the fuzzer loads memory only for small layouts.
    small_layout = struct.pack("<Q", 2) + struct.pack("<QQ", 0, 0x10000) + struct.pack("<QQ", 0x100000000, 0x4000)
    newest = {}
    for p in payloads:
        newest[p[0]] = max(newest.get(p[0], 0), p[2])
    machine = [p for p in payloads if p[0] != "memory/layout" and p[2] == newest[p[0]]]
    machine.append(("memory/layout", "ram", 1, small_layout))
    pages = page_batch([bytes([1]) + struct.pack("<Q", 0x1000) + bytes(range(256)) * 16,
                        bytes([2]) + struct.pack("<QQ", 0x100000000, 4)], 1, 4)
    seeds = {
        "snapshot": b"\x00" + section(machine) + pages,
        "inspect": b"\x01" + section(machine) + pages,
        "pages": b"\x03" + pages,
    }
    for kind, inst, version, body in payloads:
        name = "payload-%s-v%d" % (kind.replace("/", "_"), version)
        seeds[name] = b"\x02" + bytes([kinds.index(kind), version]) + body
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
