"""Packet-rate benchmark: Wren vs QEMU (-accel kvm -netdev tap,vhost=off
-device virtio-net-pci,disable-legacy=on) on the same guest, the multiboot
test kernel's packet blaster (guest-images/multiboot-test/blaster.c), one VMM
at a time, each in a network namespace of its own with its own TAP, VMM
order alternating by round. A host-side pump (bench/pps/pump.cc) counts the
guest's frames on the TAP (recvmmsg on AF_PACKET) and sends it frames
(sendmmsg). The guest times its fixed-length loops with the
HPET (100 MHz on both VMMs) and TSC; this script samples the VMM's CPU time
(utime + stime from /proc, all threads, and the threads outside KVM_RUN)
when each loop's console line appears. Prints TX and RX Mpps at 64 B, Gbps
at 1514 B and with TSO (64 KiB TX frames), host CPU per frame, and the
Wren/QEMU ratios, and checks every guest count against the sink's."""

import argparse
import contextlib
import re
import subprocess
import tempfile
import time
from pathlib import Path

import vmm_probe
from vmm_probe import harness

GUEST_MAC = "52:54:00:12:34:56"  # both VMMs' default for the first NIC
LOOPS = [("tx", 64, "tx64"), ("tx", 1514, "tx1500"), ("tx", 65494, "tso"), ("rx", 64, "rx64"), ("rx", 1514, "rx1500")]
SIZE_CLASS = {64: 0, 1514: 1, 65494: 2}  # the pump's count columns
LINE = re.compile(r"blaster: (tx|rx) (\d+) frames=(\d+) bytes=(\d+) cycles=(\d+) ticks=(\d+) kicks=(\d+)\n")
HPET_HZ = 100e6
EXIT_CODE = 21  # the guest's, through the test-exit port: the VMM exits (21 << 1) | 1


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tx64", type=int, default=200000, help="frames in the 64 B TX loop")
    p.add_argument("--tx1500", type=int, default=100000, help="frames in the 1514 B TX loop")
    p.add_argument("--tso", type=int, default=5000, help="frames in the 64 KiB TSO TX loop")
    p.add_argument("--rx64", type=int, default=100000, help="frames in the 64 B RX loop")
    p.add_argument("--rx1500", type=int, default=50000, help="frames in the 1514 B RX loop")
    p.add_argument("--rounds", type=int, default=1, help="runs per VMM, order alternating")
    p.add_argument("--vmms", default="wren,qemu", help="comma-separated: wren, qemu")
    p.add_argument("--ring3probe", type=int, default=0,
                   help="rounds of the guest's ring-0/ring-3 probe before the loops (0: none)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per run")
    p.add_argument("--boot-timeout", type=int, default=180, help="seconds from the VMM's start to the guest's ready")
    p.add_argument("--source-nice", type=int, default=0,
                   help="nice level of the host's RX source thread (19: only on an idle core)")
    return p.parse_args(argv)


class Pump:
    """bench/pps/pump.cc in a namespace, driven line by line."""

    def __init__(self, ns):
        binary = Path(harness.wren_binary()).parent / "bench" / "pps" / "pps_pump"
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, str(binary), ns.tap, GUEST_MAC],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.expect("ready")

    def expect(self, word):
        line = self.proc.stdout.readline()
        if not line.startswith(word):
            raise RuntimeError(f"pps_pump said {line!r}, expected {word}")
        return line.split()[1:]

    def ask(self, command, answer):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.expect(answer)

    def counts(self):
        """[(frames, bytes)] per size class (64 B, 1514 B, TSO) since the start."""
        v = [int(x) for x in self.ask("count", "count")]
        return [(v[0], v[1]), (v[2], v[3]), (v[4], v[5])]

    def settled_counts(self, quiet_s=0.5, timeout=30):
        """counts() once two readings quiet_s apart agree (the sink has caught up)."""
        last, deadline = self.counts(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = self.counts()
            if now == last:
                return now
            last = now
        return last

    def close(self):
        with contextlib.suppress(OSError, BrokenPipeError):
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def guest_cmdline(args):
    words = ["blaster", f"exit={EXIT_CODE}"] + [f"{key}={getattr(args, key)}" for _, _, key in LOOPS]
    if args.ring3probe:
        words.append(f"ring3probe={args.ring3probe}")
    return " ".join(words)


def vmm_command(vmm, ns, kernel, cmdline, serial):
    if vmm == "wren":
        guest = harness.manifest_guest("multiboot-blaster")
        return [harness.wren_binary(), "run", "--serial", f"file:{serial}",
                *harness.boot_args(guest, multiboot_elf=kernel, cmdline=cmdline, tap=ns.tap,
                                   test_exit="iobase=0xf4,iosize=4")]
    return ["qemu-system-x86_64", "-accel", "kvm", "-m", "64", "-smp", "1", "-nographic", "-no-reboot",
            "-nodefaults", "-display", "none", "-serial", f"file:{serial}", "-kernel", kernel, "-append", cmdline,
            "-netdev", f"tap,id=n0,ifname={ns.tap},script=no,downscript=no,vhost=off",
            "-device", f"virtio-net-pci,netdev=n0,disable-legacy=on,mac={GUEST_MAC}",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


class Cpu:
    """The VMM's CPU seconds: all threads, and those outside KVM_RUN."""

    def __init__(self, pid):
        self.pid = pid
        self.vcpus = vmm_probe.guest_time_threads(pid)
        if not self.vcpus:
            raise RuntimeError(f"no thread of {pid} has run the guest")

    def sample(self):
        total = vmm_probe.cpu_seconds(self.pid)
        return total, total - vmm_probe.cpu_seconds(self.pid, self.vcpus)


def drive(vmm, proc, serial, pump, args, before_end=None):
    """Follows the blaster's console (serial, a Path) while the VMM `proc`
    runs it: samples the VMM's CPU at each loop's start and end, sends the
    go-aheads and the RX traffic through `pump`, calls before_end() (if
    given) while the guest waits at its end, then lets it finish. Returns
    {loop key: result}; a TX result carries the sink's count ("sink"), an RX
    result the frames the host sent ("sent")."""
    deadline = time.monotonic() + args.timeout
    results = {}

    def wait(pattern, start, within=None):
        until = min(deadline, time.monotonic() + within) if within else deadline
        while True:
            text = serial.read_text(errors="replace") if serial.exists() else ""
            m = re.compile(pattern).search(text, start)
            if m:
                return m
            if proc.poll() is not None:
                raise RuntimeError(f"{vmm} exited ({proc.returncode}) before /{pattern}/:\n{text[-1500:]}")
            if time.monotonic() > until:
                raise TimeoutError(f"{vmm}: no /{pattern}/ in time:\n{text[-1500:]}")
            time.sleep(0.01)

    m = wait(r"blaster: ready tso=(\d) tsc_khz=(\d+)\n", 0, within=args.boot_timeout)
    tso, tsc_khz = m.group(1) == "1", int(m.group(2))
    pos = m.end()
    if args.ring3probe:
        m = wait(r"ring3probe: notify from ring 3[^\n]*\n", 0)
        text = serial.read_text(errors="replace")
        for line in re.findall(r"ring3probe: [^\n]*", text):
            harness.log(f"{vmm}: {line}")
        t = re.search(r"ring0 compute=(\d+) notify=(\d+) ring3 compute=(\d+) notify=(\d+)", text)
        if t and tsc_khz:
            us = [int(x) / tsc_khz * 1000 for x in t.groups()]
            harness.log(f"{vmm}: ring3probe at {tsc_khz} kHz: compute round {us[0] * 1000:.2f} ns (ring 0) "
                        f"vs {us[2] * 1000:.2f} ns (ring 3); notify {us[1]:.1f} us (ring 0) vs {us[3]:.1f} us (ring 3)")
        pos = m.end()
    cpu = Cpu(proc.pid)
    for direction, size, key in LOOPS:
        n = getattr(args, key)
        if not n or (key == "tso" and not tso):
            continue
        sent = None
        pos = wait(rf"blaster: {direction} {size} (posted|waiting)\n", pos).end()
        before = cpu.sample()
        if direction == "rx":
            pump.ask(f"source {size} {args.source_nice}", "source")
        else:
            pump.ask("go", "go")
        m = wait(rf"blaster: {direction} {size} (frames=[^\n]*|timeout[^\n]*|no go)\n", pos)
        after = cpu.sample()
        if direction == "rx":
            sent = int(pump.ask("stop", "sent")[0])
        pos = m.end()
        line = LINE.match(m.group(0))
        if not line:
            raise RuntimeError(f"{vmm}: {m.group(0).strip()}")
        frames, nbytes, cycles, ticks, kicks = (int(line.group(i)) for i in range(3, 8))
        results[key] = dict(frames=frames, bytes=nbytes, cycles=cycles, seconds=ticks / HPET_HZ, kicks=kicks,
                            cpu=after[0] - before[0], device_cpu=after[1] - before[1], sent=sent)
        harness.log(f"{vmm}: {direction} {size}: {frames} frames in {ticks / HPET_HZ:.3f} s, "
                    f"{cycles / frames:.0f} cycles/frame, {kicks} kicks, "
                    f"VMM CPU {after[0] - before[0]:.2f} s ({after[1] - before[1]:.2f} s outside KVM_RUN)"
                    + (f", host sent {sent}" if sent is not None else ""))
    pos = wait(r"blaster: end waiting\n", pos).end()
    counted = pump.settled_counts()
    for direction, size, key in LOOPS:
        if direction == "tx" and key in results:
            results[key]["sink"] = counted[SIZE_CLASS[size]][0]
    if before_end:
        before_end()
    pump.ask("go", "go")
    wait(r"blaster: done\n", pos)
    return results


def run_one(vmm, args, kernel, workdir):
    """One boot of the blaster under `vmm`; returns drive()'s results."""
    serial = Path(workdir) / f"{vmm}-{time.monotonic_ns()}.serial"
    with harness.Netns() as ns:
        ns.run("sysctl", "-q", f"net.ipv6.conf.{ns.tap}.disable_ipv6=1", check=False)
        pump = Pump(ns)
        cmd = vmm_command(vmm, ns, kernel, guest_cmdline(args), serial)
        harness.log(f"{vmm}: {' '.join(cmd)}")
        proc = subprocess.Popen(["ip", "netns", "exec", ns.name, *cmd], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            results = drive(vmm, proc, serial, pump, args)
            status = proc.wait(timeout=60)
            if status != (EXIT_CODE << 1) | 1:
                raise RuntimeError(f"{vmm} exited {status}: {proc.stderr.read().decode(errors='replace')[-1500:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            pump.close()
    return results


def main():
    args = parse_args()
    vmms = args.vmms.split(",")
    kernel, _ = harness.multiboot_test_kernels()
    workdir = tempfile.mkdtemp(prefix="pps-", dir=vmm_probe.REPO / "build")
    runs = {v: [] for v in vmms}
    failed = []
    for rnd in range(args.rounds):
        for vmm in (vmms if rnd % 2 == 0 else vmms[::-1]):
            try:
                runs[vmm].append(run_one(vmm, args, kernel, workdir))
            except (RuntimeError, TimeoutError) as e:  # a crashed or stuck run; the others still count
                harness.log(f"{vmm}: round {rnd + 1} failed: {e}")
                failed.append(f"{vmm} round {rnd + 1}")

    def med(vmm, key, f):
        vals = [f(r[key]) for r in runs[vmm] if key in r]
        return vmm_probe.median(vals) if vals else None

    rows, problems = [], []
    for direction, size, key in LOOPS:
        label = {64: "64 B", 1514: "1514 B", 65494: "64 KiB TSO"}[size]
        unit, scale = ("Mpps", lambda r: r["frames"] / r["seconds"] / 1e6) if size == 64 else \
            ("Gbps", lambda r: r["bytes"] * 8 / r["seconds"] / 1e9)
        rows.append((f"{direction.upper()} {label} ({unit})", *(med(v, key, scale) for v in vmms)))
        rows.append((f"  host CPU per frame (us)", *(med(v, key, lambda r: r["cpu"] / r["frames"] * 1e6)
                                                    for v in vmms)))
        rows.append((f"  of it outside KVM_RUN (us)",
                     *(med(v, key, lambda r: r["device_cpu"] / r["frames"] * 1e6) for v in vmms)))
        rows.append((f"  guest TSC cycles per frame", *(med(v, key, lambda r: r["cycles"] / r["frames"])
                                                       for v in vmms)))
        rows.append((f"  kicks per frame", *(med(v, key, lambda r: r["kicks"] / r["frames"]) for v in vmms)))
        if direction == "rx":
            rows.append((f"  host frames sent per frame received",
                         *(med(v, key, lambda r: r["sent"] / r["frames"]) for v in vmms)))
        for v in vmms:
            for r in runs[v]:
                if direction == "tx" and key in r and r[key]["sink"] != r[key]["frames"]:
                    problems.append(f"{v}: {key}: the guest sent {r[key]['frames']} frames, "
                                    f"the sink counted {r[key]['sink']}")
    print(f"\n{'metric':40s}" + "".join(f"{v:>12s}" for v in vmms) + ("   wren/qemu" if len(vmms) == 2 else ""))
    for name, *vals in rows:
        if all(x is None for x in vals):
            continue
        cells = "".join(f"{x:12.4g}" if x is not None else f"{'-':>12s}" for x in vals)
        ratio = f"{vals[0] / vals[1]:12.2f}" if len(vals) == 2 and vals[0] and vals[1] else ""
        print(f"{name:40s}{cells}{ratio}")
    print("(" + ", ".join(f"{len(runs[v])} {v} run(s)" for v in vmms) + ", medians; loops: " +
          ", ".join(f"{key}={getattr(args, key)}" for _, _, key in LOOPS) +
          "; rates from the guest's HPET; CPU: the VMM's utime+stime over each loop)")
    for p in problems:
        print(f"MISMATCH {p}")
    if failed:
        print(f"FAILED runs (left out above): {', '.join(failed)}")
    if problems or failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
