"""Disk benchmark: Wren vs QEMU (-device virtio-blk-pci, aio=io_uring), one
VMM at a time, on the same raw image, kernel, initramfs and command line. The
guest's test module (wren_disk.c, step `bench`) drives the real virtio_blk
driver with raw bios, QD requests in flight, and times each phase with the
guest's clock:

- sequential write and read of MIB MiB in 128 KiB requests (MB/s),
- OPS random 4 KiB reads, then writes (IOPS),

and the host samples the VMM's CPU time (utime+stime of every thread,
io_uring workers included) at each phase's begin and end line, for the host
CPU per request. The physical limit is the same pattern run by this script on
the image itself (one request at a time, no VMM). Prints a table with
Wren/QEMU ratios."""

import argparse
import mmap
import os
import random
import tempfile
import time
from pathlib import Path

import vmm_probe
from vmm_probe import harness

PHASES = ["seqwrite", "seqread", "randread", "randwrite"]
SEQ_IO, RAND_IO = 128 << 10, 4096

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--mib", type=int, default=64, help="sequential span and random-I/O range, MiB")
parser.add_argument("--ops", type=int, default=2000, help="random requests per direction")
parser.add_argument("--qd", type=int, default=8, help="requests in flight in the guest")
parser.add_argument("--rounds", type=int, default=1, help="rounds, VMM order alternating")
parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the image goes")
parser.add_argument("--timeout", type=int, default=1800, help="seconds per guest run")
args = parser.parse_args()


def direct_io_works(directory):
    """cache=none needs O_DIRECT, which some file systems (tmpfs before 6.6) refuse."""
    probe = Path(directory) / f".wren-odirect-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o600)
    except OSError:
        return False
    try:
        buf = mmap.mmap(-1, 4096)
        return os.pwritev(fd, [buf], 0) == 4096
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


def host_limit(image, direct):
    """The same pattern straight on the image from this process, one request at a time."""
    flags = os.O_RDWR | (os.O_DIRECT if direct else 0)
    fd = os.open(image, flags)
    span = args.mib << 20
    seq, rand = mmap.mmap(-1, SEQ_IO), mmap.mmap(-1, RAND_IO)
    out = {}
    try:
        for phase in PHASES:
            size, count = (SEQ_IO, span // SEQ_IO) if phase.startswith("seq") else (RAND_IO, args.ops)
            buf = seq if size == SEQ_IO else rand
            offsets = [i * size for i in range(count)] if phase.startswith("seq") else \
                [random.randrange(span // size) * size for _ in range(count)]
            io = os.pwritev if phase.endswith("write") else os.preadv
            t0 = time.monotonic_ns()
            for off in offsets:
                io(fd, [buf], off)
            if phase.endswith("write"):
                os.fdatasync(fd)
            out[phase] = {"requests": count, "bytes": count * size, "ns": time.monotonic_ns() - t0, "cpu": None}
    finally:
        os.close(fd)
    return out


def guest_run(vmm, ns, image, kernel, initrd, cache, tmp):
    """Boots the guest under `vmm`; returns {phase: requests, bytes, ns, cpu seconds}."""
    steps = f"bench=vda:{args.mib}:{args.ops}:{args.qd},poweroff"
    cmdline = f"{harness.compat_cmdline()} wren_test.devwait=0 wren_test.steps=waitinit,parkinit wren_disk.steps={steps}"
    serial = f"{tmp}/{vmm}.serial"
    if vmm == "wren":
        cmd = vmm_probe.wren_cmd(kernel, initrd, cmdline, 256, serial) + ["--disk", f"path={image},cache={cache}"]
    else:
        cmd = vmm_probe.qemu_cmd(kernel, initrd, cmdline, 256, serial) + [
            "-drive", f"file={image},if=none,id=d0,format=raw,cache={cache},aio=io_uring",
            "-device", "virtio-blk-pci,drive=d0"]
    try:
        _, _, proc = vmm_probe.boot_until(ns, cmd, serial, r"WREN-DISK: bench vda seqwrite begin", 1 << 30,
                                          timeout=args.timeout)
    except (RuntimeError, TimeoutError):
        console = Path(serial).read_text(errors="replace") if Path(serial).exists() else ""
        print(f"{vmm}: console (last 40 lines):\n" + "\n".join(console.splitlines()[-40:]), flush=True)
        raise
    result, start = {}, 0
    try:
        for phase in PHASES:
            begin = vmm_probe.wait_for(proc, serial, rf"WREN-DISK: bench vda {phase} begin", args.timeout, start)
            cpu0 = vmm_probe.cpu_seconds(proc.pid)
            end = vmm_probe.wait_for(proc, serial, rf"WREN-DISK: bench vda {phase} end requests=(\d+) "
                                     r"bytes=(\d+) ns=(\d+) errors=(\d+)", args.timeout, begin.end())
            cpu1 = vmm_probe.cpu_seconds(proc.pid)
            requests, nbytes, ns_, errors = map(int, end.groups())
            if errors:
                raise RuntimeError(f"{vmm}: {errors} failed requests in {phase}")
            result[phase] = {"requests": requests, "bytes": nbytes, "ns": ns_, "cpu": cpu1 - cpu0}
            start = end.end()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return result


def rate(r, phase):
    secs = r[phase]["ns"] / 1e9
    return r[phase]["bytes"] / secs / 1e6 if phase.startswith("seq") else r[phase]["requests"] / secs


def cpu_us(r, phase):
    return None if r[phase]["cpu"] is None else r[phase]["cpu"] / r[phase]["requests"] * 1e6


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def fmt(x):
    return "-" if x is None else f"{x:.1f}"


def main():
    kernel, initrd = harness.guest_images()
    direct = direct_io_works(args.dir)
    cache = "none" if direct else "writeback"
    runs = {"wren": [], "qemu": []}
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="wren-bench-blk-") as tmp, harness.Netns() as ns:
        image = Path(tmp) / "disk.img"
        with open(image, "wb") as f:
            f.truncate((args.mib + 16) << 20)
        limit = host_limit(image, direct)
        for r in range(args.rounds):
            for vmm in (["wren", "qemu"] if r % 2 == 0 else ["qemu", "wren"]):
                print(f"round {r + 1}: {vmm}", flush=True)
                runs[vmm].append(guest_run(vmm, ns, image, kernel, initrd, cache, tmp))

    def best(vmm, phase, f):
        return max(f(run, phase) for run in runs[vmm]) if f is rate else \
            min(f(run, phase) for run in runs[vmm])

    print(f"\ncache={cache} ({'O_DIRECT' if direct else 'O_DIRECT refused by the file system of ' + args.dir}), "
          f"QD {args.qd} in the guest, {args.mib} MiB span, {args.ops} random requests; best of {args.rounds}")
    print(f"{'phase':<10} {'unit':<6} {'wren':>9} {'qemu':>9} {'w/q':>6} {'host':>9} {'w/host':>7}"
          f" | {'CPU us/req wren':>15} {'qemu':>7} {'w/q':>6}")
    for phase in PHASES:
        unit = "MB/s" if phase.startswith("seq") else "IOPS"
        w, q, h = best("wren", phase, rate), best("qemu", phase, rate), rate(limit, phase)
        cw, cq = best("wren", phase, cpu_us), best("qemu", phase, cpu_us)
        print(f"{phase:<10} {unit:<6} {w:>9.1f} {q:>9.1f} {ratio(w, q):>6} {h:>9.1f} {ratio(w, h):>7}"
              f" | {fmt(cw):>15} {fmt(cq):>7} {ratio(cw, cq):>6}")


if __name__ == "__main__":
    main()
