"""Network benchmark: Wren vs QEMU (-netdev tap,vhost=off -device
virtio-net-pci), one guest each, booted concurrently with the same kernel,
initramfs and command line, each in its own network namespace with its own
TAP. Measures, one VMM at a time while the other guest idles:

- host->guest ping RTT (ping(8) in the namespace),
- guest->host ping RTT (the test module's `ping=` step, timed with the
  guest's clock, triggered by a `next` probe frame),
- the VMM's host CPU time per ping round trip: utime+stime of all its threads
  over an adaptive ping flood (ping -A: one request in flight), minus its idle
  CPU rate measured just before; split into the vCPU threads (found in
  ioctl(KVM_RUN); on this software KVM they also run the guest kernel's
  emulation) and the other threads (the device model); and the flood's rate.

- KVM's exit counters for the vCPU over the same flood, by reason, read
  with QMP query-stats from both VMMs (KVM's per-vCPU binary statistics;
  the idle rate subtracted as for CPU), printed per round trip side by side.

The module parks /init first (`parkinit`): /init spins in user mode, which
would keep the vCPU busy and hide the per-packet CPU time behind a full core.
Prints a table with Wren/QEMU ratios (lower is better, but for round trips/s)."""

import argparse
import concurrent.futures as cf
import contextlib
import re
import tempfile
import time

import vmm_probe
from vmm_probe import harness

HOST_IP, GUEST_IP = "10.77.0.1", "10.77.0.2"
GUEST_MAC = "52:54:00:12:34:56"  # both VMMs' default for the first NIC

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--memory-mb", type=int, default=256)
parser.add_argument("--pings", type=int, default=200, help="echo requests per latency run, each direction")
parser.add_argument("--interval-ms", type=int, default=500,
                    help="gap between latency pings; above the RTT, so that one request is in flight")
parser.add_argument("--flood", type=int, default=1000, help="round trips in the CPU measurement")
parser.add_argument("--idle-s", type=float, default=10, help="idle CPU baseline length")
parser.add_argument("--boot-timeout", type=int, default=2400, help="seconds; two boots at once on a busy host are slow")
parser.add_argument("--rounds", type=int, default=1, help="measurement rounds, VMM order alternating")
args = parser.parse_args()

VMMS = ["wren", "qemu"]
# Steps 1-2 park /init; then one (wait, ping) pair per round: wait = 3 + 2r.
STEPS = ["waitinit", "parkinit"] + [f"wait,ping={HOST_IP}:{args.pings}:{args.interval_ms}"] * args.rounds


class Guest:
    """One VMM with its guest, booted in its own namespace."""

    def __init__(self, vmm, ns, tmp, sockets):
        self.vmm, self.ns = vmm, ns
        self.serial = f"{tmp}/{vmm}.serial"
        self.api = f"{sockets}/{vmm}.qmp"
        self.qmp = None
        self.proc = None
        self.boot_s = None

    def boot(self, kernel, initrd, cmdline):
        if self.vmm == "wren":
            cmd = vmm_probe.wren_cmd(kernel, initrd, cmdline, args.memory_mb, self.serial, net_tap=self.ns.tap,
                                     api=self.api)
        else:
            cmd = vmm_probe.qemu_cmd(kernel, initrd, cmdline, args.memory_mb, self.serial, net_tap=self.ns.tap,
                                     qmp=self.api)
        self.boot_s, _, self.proc = vmm_probe.boot_until(self.ns, cmd, self.serial, r"WREN-TEST: init parked",
                                                         args.memory_mb << 20, args.boot_timeout)
        ok, tries, out = self.ns.ping_until(GUEST_IP)
        if not ok:
            raise RuntimeError(f"{self.vmm}: guest does not answer ping:\n{out}")
        self.qmp = harness.QmpConnection(self.api, connect_timeout=30)
        harness.log(f"{self.vmm}: init parked after {self.boot_s:.0f} s, ping answered after {tries} attempt(s)")

    def stop(self):
        if self.qmp:
            self.qmp.close()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def ping(self, *opts):
        r = self.ns.run("ping", *opts, GUEST_IP, check=False, capture_output=True, text=True)
        sent = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
        if not sent:
            raise RuntimeError(f"{self.vmm}: ping failed:\n{r.stdout}{r.stderr}")
        return int(sent.group(2)), r.stdout

    def host_to_guest_ms(self):
        _, out = self.ping("-c", str(args.pings), "-i", str(args.interval_ms / 1000))
        return [float(t) for t in re.findall(r"time=([\d.]+) ms", out)]

    def cpu_per_round_trip(self):
        """Host CPU seconds per ping round trip above the idle rate: all threads
        and vCPU threads only; also the idle CPU share and the round-trip rate."""
        vcpus = vmm_probe.vcpu_threads(self.proc.pid)

        def sample():
            return (time.monotonic(), vmm_probe.cpu_seconds(self.proc.pid), vmm_probe.cpu_seconds(self.proc.pid, vcpus),
                    vmm_probe.vcpu_exit_counts(self.qmp))

        t0, all0, vcpu0, exits0 = sample()
        time.sleep(args.idle_s)
        t1, all1, vcpu1, exits1 = sample()
        # -A: the next request goes out when the reply is in, so every packet reaches the guest.
        received, _ = self.ping("-A", "-q", "-c", str(args.flood))
        t2, all2, vcpu2, exits2 = sample()
        idle_s, flood_s, n = t1 - t0, t2 - t1, max(received, 1)
        total = ((all2 - all1) - (all1 - all0) / idle_s * flood_s) / n
        vcpu = ((vcpu2 - vcpu1) - (vcpu1 - vcpu0) / idle_s * flood_s) / n
        exits = {k: ((exits2[k] - exits1[k]) - (exits1[k] - exits0[k]) / idle_s * flood_s) / n for k in exits2}
        flood_exits = {k: (exits2[k] - exits1[k]) / n for k in exits2}
        idle_exits = {k: (exits1[k] - exits0[k]) / idle_s for k in exits2}
        return {"all": total, "vcpu": vcpu, "other": total - vcpu,
                "idle": (all1 - all0) / idle_s, "rate": received / flood_s,
                "exits": exits, "flood_exits": flood_exits, "idle_exits": idle_exits}

    def guest_to_host_ms(self, rnd):
        """Releases wait step 3 + 2*rnd with `next` probes; returns the ping step's RTTs."""
        wait_step = 3 + 2 * rnd
        deadline = time.monotonic() + 600
        while True:
            self.ns.send_probe(GUEST_MAC, "next")
            try:
                start = vmm_probe.wait_for(self.proc, self.serial, rf"WREN-TEST: step {wait_step} done", 5).end()
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        timeout = args.pings * (args.interval_ms + 2500) / 1000 + 60
        end = vmm_probe.wait_for(self.proc, self.serial, rf"WREN-TEST: step {wait_step + 1} done rc=0",
                                 timeout, start).start()
        log = open(self.serial, errors="replace").read()[start:end]
        return [int(us) / 1000 for line in re.findall(r"ping rtt_us=([\d,]+)", log) for us in line.split(",")]


# The counters each round's log line shows (per round trip of its flood, as counted).
ROUND_STATS = ["exits", "insn_emulation", "mmio_exits", "io_exits", "halt_exits", "irq_injections", "irq_window_exits"]


def print_exit_counts(cpu):
    """KVM's per-vCPU counters side by side: per round trip of the flood
    (idle rate subtracted, and as counted) and per second of the idle
    baseline, medians over rounds; counters that stayed zero under both VMMs
    are left out. halt_wait_ns and the other *_ns counters are nanoseconds."""
    def medians(vmm, key):
        names = set().union(*(c[key] for c in cpu[vmm]))
        return {k: vmm_probe.median([c[key].get(k, 0) for c in cpu[vmm]]) for k in names}

    for key, title in [("exits", "per round trip under ping -A, idle rate subtracted"),
                       ("flood_exits", "per round trip under ping -A, as counted"),
                       ("idle_exits", "per second of the idle baseline")]:
        w, q = medians("wren", key), medians("qemu", key)
        names = sorted(set(w) | set(q), key=lambda k: -(abs(w.get(k, 0)) + abs(q.get(k, 0))))
        print(f"\nKVM vCPU stats (query-stats), {title}")
        print(f"{'stat':32s} {'wren':>14s} {'qemu':>14s} {'wren/qemu':>10s}")
        for k in names:
            a, b = w.get(k, 0), q.get(k, 0)
            if abs(a) < 0.005 and abs(b) < 0.005:
                continue
            ratio = f"{a / b:10.2f}" if abs(b) >= 0.005 else f"{'-':>10s}"
            print(f"{k:32s} {a:14.2f} {b:14.2f} {ratio}")


def main():
    kernel, initrd = harness.guest_images()
    cmdline = " ".join([harness.compat_cmdline(), f"ip={GUEST_IP}::{HOST_IP}:255.255.255.0::eth0:off",
                        "wren_test.steps=" + ",".join(STEPS)])
    # Not in /tmp: other jobs on the shared test machines clean /tmp/wren-* while we run.
    logs = vmm_probe.REPO / "build" / "bench-net"
    logs.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=logs)
    h2g = {v: [] for v in VMMS}
    g2h = {v: [] for v in VMMS}
    cpu = {v: [] for v in VMMS}
    with contextlib.ExitStack() as stack:
        # Control sockets in the local /tmp: a 9p or NFS repository cannot hold a socket.
        sockets = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-net-qmp-"))
        guests = {}
        for vmm in VMMS:
            guests[vmm] = Guest(vmm, stack.enter_context(harness.Netns()), tmp, sockets)
            stack.callback(guests[vmm].stop)
        harness.log(f"booting {' and '.join(VMMS)} concurrently (minutes on this KVM); serial logs in {tmp}")
        with cf.ThreadPoolExecutor(len(VMMS)) as pool:
            for f in [pool.submit(g.boot, kernel, initrd, cmdline) for g in guests.values()]:
                f.result()
        for rnd in range(args.rounds):
            order = VMMS if rnd % 2 == 0 else VMMS[::-1]
            for vmm in order:
                g = guests[vmm]
                h2g[vmm] += g.host_to_guest_ms()
                c = g.cpu_per_round_trip()
                cpu[vmm].append(c)
                g2h[vmm] += g.guest_to_host_ms(rnd)
                harness.log(f"round {rnd + 1} {vmm}: host->guest median {vmm_probe.median(h2g[vmm]):.2f} ms, "
                            f"guest->host median {vmm_probe.median(g2h[vmm]):.2f} ms, "
                            f"CPU {c['all'] * 1e6:.0f} us/round trip ({c['vcpu'] * 1e6:.0f} in vCPU threads) "
                            f"at {c['rate']:.1f} round trips/s, idle {c['idle'] * 100:.1f}% of a core; per round trip "
                            + ", ".join(f"{k} {c['flood_exits'].get(k, 0):.2f}" for k in ROUND_STATS))
        boot = {v: guests[v].boot_s for v in VMMS}

    rows = []
    for label, samples in [("host->guest RTT", h2g), ("guest->host RTT", g2h)]:
        for name, p in [("median", 50), ("p90", 90), ("p99", 99)]:
            rows.append((f"{label} {name} (ms)", *(vmm_probe.percentile(samples[v], p) for v in VMMS)))
        rows.append((f"{label} replies", *(len(samples[v]) for v in VMMS)))

    def cpu_row(label, key, scale):
        rows.append((label, *(vmm_probe.median([c[key] for c in cpu[v]]) * scale for v in VMMS)))

    cpu_row("host CPU per round trip (us)", "all", 1e6)
    cpu_row("  of it in vCPU threads (us)", "vcpu", 1e6)
    cpu_row("  of it in other threads (us)", "other", 1e6)
    cpu_row("round trips/s under ping -A", "rate", 1)
    cpu_row("idle CPU (% of a core)", "idle", 100)
    rows.append(("boot to init parked (s)", *(boot[v] for v in VMMS)))

    print(f"\n{'metric':32s} {'wren':>10s} {'qemu':>10s} {'wren/qemu':>10s}")
    for name, w, q in rows:
        ratio = f"{w / q:10.2f}" if q else f"{'-':>10s}"
        print(f"{name:32s} {w:10.2f} {q:10.2f} {ratio}")
    print_exit_counts(cpu)
    print(f"(host->guest: ping -c {args.pings} -i {args.interval_ms / 1000}; guest->host: module ping step, "
          f"{args.pings} x {args.interval_ms} ms, guest clock; CPU: ping -A -c {args.flood}, "
          f"minus idle over {args.idle_s:g} s; {args.rounds} round(s))")


main()
