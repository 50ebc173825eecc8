#!/usr/bin/env python3
"""Where the KVM host VM's CPUs are: asks QEMU's monitor for every CPU's
registers and names each instruction pointer after the nearest kernel text
symbol below it, from the copy of /proc/kallsyms that the VM's init made.
  cpu_report.py MONITOR_SOCKET KALLSYMS"""
import bisect
import re
import socket
import sys
import time


def monitor_command(path, command, timeout=10.0):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        received = b""
        deadline = time.monotonic() + timeout

        def until_prompt():
            nonlocal received
            while not received.endswith(b"(qemu) ") and time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk

        until_prompt()  # the banner
        received = b""
        sock.sendall(command.encode() + b"\n")
        until_prompt()
        return received.decode(errors="replace")


def load_symbols(path):
    addresses, names = [], []
    try:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[1] in "tT":
                    addresses.append(int(fields[0], 16))
                    names.append(fields[2])
    except OSError:
        pass
    order = sorted(range(len(addresses)), key=addresses.__getitem__)
    return [addresses[i] for i in order], [names[i] for i in order]


def main():
    registers = monitor_command(sys.argv[1], "info registers -a")
    addresses, names = load_symbols(sys.argv[2])
    for cpu, block in enumerate(re.split(r"\r?\nCPU#\d+\r?\n", "\n" + registers)[1:]):
        rip = re.search(r"RIP=([0-9a-f]+)", block)
        cpl = re.search(r"CPL=(\d)", block)
        halted = re.search(r"HLT=(\d)", block)
        if not rip:
            continue
        address = int(rip.group(1), 16)
        where = ""
        index = bisect.bisect_right(addresses, address) - 1
        if index >= 0 and address - addresses[index] < 0x100000:
            where = f" {names[index]}+{address - addresses[index]:#x}"
        print(f"  CPU {cpu}: RIP={address:#x}{where} CPL={cpl.group(1) if cpl else '?'}"
              f" halted={halted.group(1) if halted else '?'}")


if __name__ == "__main__":
    main()
