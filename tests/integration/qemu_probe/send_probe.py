#!/usr/bin/env python3
"""Send Wren probe frames (ethertype 0x88B5, payload b"WRENPROBE:<tag>") on an
interface through an AF_PACKET raw socket.

    send_probe.py IFACE DST_MAC,TAG[,VLAN] ...

Run it only inside the test's own network namespace.
"""
import socket
import struct
import sys

ETH_P_PROBE = 0x88B5
ETH_P_8021Q = 0x8100


def mac_bytes(s):
    b = bytes(int(x, 16) for x in s.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC " + s)
    return b


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    iface = sys.argv[1]
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, 0))
        src = s.getsockname()[4][:6]
        for spec in sys.argv[2:]:
            parts = spec.split(",")
            dst, tag = mac_bytes(parts[0]), parts[1].encode("ascii")
            hdr = dst + src
            if len(parts) > 2:
                hdr += struct.pack("!HH", ETH_P_8021Q, int(parts[2]) & 0x0FFF)
            frame = hdr + struct.pack("!H", ETH_P_PROBE) + b"WRENPROBE:" + tag + b"\0"
            frame = frame.ljust(60, b"\0")
            s.send(frame)


if __name__ == "__main__":
    main()
