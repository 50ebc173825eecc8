"""Live-migration benchmark: Wren vs QEMU on the same test guest.

Each VMM gets its own pair of "hosts" (namespaces A and B, each with a bridge
and a TAP, bridges joined by a veth pair, as in tests/integration/test_migrate.py).
Both guests boot concurrently; then, one VMM at a time so that the two
transfers never compete:
  1. idle:     migrate A -> B while the guest only runs its spinning /init;
  2. dirtying: start the test module's dirtying kthread (4 MiB rewritten in a
               loop) and migrate B -> A to a new destination on A.
During each migration host A pings the guest, each ping as soon as the
previous one is answered (ping -A). Reported per
migration: the largest gap between consecutive ping replies (the downtime the
guest's peers see), the VMM's own stop-to-resume time, the total migration
time and the bytes sent, with wren/qemu ratios.

The VMMs' own downtime figures differ in what they cover: Wren's runs from
pausing the guest to the destination's CommitAck (the destination has loaded
everything and runs the guest next), QEMU's (query-migrate "downtime") from
stopping the guest until the source has sent its last byte, without waiting
for the destination to load it. The "stop-to-resume" row therefore takes
QEMU's from its QMP events instead: the source's STOP to the destination's
RESUME (both stamped with the host clock). The ping gap is the guest's view:
it also holds the time the resumed guest needs before it answers again.

Why adaptive pings: on the software KVM of the test machines the guest
answers only some 15-50 pings a second (every packet runs emulated kernel
code), so a fixed 10 ms interval (--ping-interval 0.01) floods it: most
requests are dropped, round trips grow to seconds and the reply gaps before
any migration reach 300-500 ms, burying the downtime in queueing noise. One
ping in flight keeps the guest's queue empty, so a reply gap is the time the
guest did not answer, to within one round trip. On a fast host the same
pings simply come faster.

Pings run against a permanent neighbour entry for the guest (its MAC never
changes), so that no ARP re-probe failing during the switchover adds to the
gap.
"""

import argparse
import concurrent.futures as cf
import contextlib
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import vmm_probe  # first: puts tests/integration on the path
from vmm_probe import QemuVm, harness
from guest_net import GUEST_IP, GUEST_MAC, IP_CONFIG, advance
from harness import Netns, Wren, join_hosts, log

HOST_IPS = {"A": "10.77.0.1", "B": "10.77.0.3"}
PORT = 4444
# Three waits keep the guest idle for up to 3 x 600 s (a wait step's limit)
# whatever the boot and the idle migrations take; the dirtying starts when
# the bench advances past them.
STEPS = ["wait", "wait", "wait", "dirty=on"]
LAST_WAIT, DIRTY_STEP = 3, 4
MIGRATION_TIMEOUT = 900
BOOT_TIMEOUT = max(harness.BOOT_TIMEOUT, 1800)  # two guests boot at once on a shared machine

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--vmm", choices=["both", "wren", "qemu"], default="both",
                    help="run one VMM only (for development; no ratios)")
parser.add_argument("--memory-mb", type=int, default=256)
parser.add_argument("--downtime-ms", type=int, default=300, help="downtime budget given to both VMMs")
parser.add_argument("--ping-interval", type=float, default=None,
                    help="seconds between pings; default: adaptive (ping -A: the next as soon as the last is answered)")
args = parser.parse_args()

kernel, initrd = harness.guest_images()
cmdline = " ".join([harness.compat_cmdline(), IP_CONFIG, "wren_test.steps=" + ",".join(STEPS)])
workdir = Path(tempfile.mkdtemp(prefix="wren-bench-migrate-"))


class Pinger:
    """`ping -D` from a namespace into a file; parses the replies' arrival times.
    The guest's neighbour entry is made permanent first (its MAC never
    changes): otherwise a neighbour re-probe that happens to fall into the
    switchover can fail and add seconds of "host unreachable" to the gap."""

    def __init__(self, ns, path):
        self.path = path
        ns.run("ip", "neigh", "replace", GUEST_IP, "lladdr", GUEST_MAC, "dev", "br0", "nud", "permanent")
        self.out = open(path, "w")
        # Line-buffered: ping's stdout into a file is block-buffered otherwise.
        pace = ["-A"] if args.ping_interval is None else ["-i", str(args.ping_interval)]
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, "stdbuf", "-oL", "ping", "-D", *pace, GUEST_IP],
                                     stdout=self.out, stderr=subprocess.STDOUT)

    def replies(self):
        """[(arrival time, icmp_seq, round-trip ms)] so far."""
        rx = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+) .*time=([\d.]+) ms", re.M)
        return [(float(t), int(seq), float(rtt))
                for t, seq, rtt in rx.findall(Path(self.path).read_text(errors="replace"))]

    def wait_reply_after(self, t, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(ts > t for ts, _, _ in self.replies()):
                return True
            time.sleep(0.2)
        return False

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # ping's own way out: prints its summary
        self.proc.wait()
        self.out.close()


def ping_stats(replies, start):
    """The largest reply gap across the migration (pairs ending after `start`)
    as (seconds, its start and end relative to `start`); before `start`, the
    largest gap (the baseline jitter, seconds) and the median round trip (ms);
    and the requests up to the last one answered that never were."""
    times = sorted(ts for ts, _, _ in replies)
    gaps = [(b - a, a - start, b - start) for a, b in zip(times, times[1:])]
    during = max((g for g in gaps if g[2] > 0), default=(float("inf"), 0.0, 0.0))
    before = max((g[0] for g in gaps if g[2] <= 0), default=0.0)
    rtt_before = vmm_probe.median([rtt for ts, _, rtt in replies if ts <= start] or [0.0])
    seqs = {seq for _, seq, _ in replies}
    lost = max(seqs, default=0) - len(seqs)
    return during, before, rtt_before, lost


class WrenDriver:
    name = "wren"

    def machine(self):
        return ["--cpus", "1", "--memory", f"{args.memory_mb}M", "--net", f"tap=tap0,mac={GUEST_MAC}"]

    def boot(self, ns):
        return Wren(ns, ["--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline, *self.machine()],
                    name="wren-boot", workdir=workdir)

    def destination(self, ns, ip, name):
        vm = Wren(ns, ["--incoming", f"tcp:{ip}:{PORT}", *self.machine()], name=name, workdir=workdir)
        vm.__enter__()
        wait_until(lambda: "waiting for a migration" in vm.stderr_path.read_text(), vm, "listening")
        return vm

    def migrate(self, src, dst, ip):
        """Migrates and waits for the source to hand over."""
        reply = src.request("migrate", uri=f"tcp:{ip}:{PORT}", downtime_ms=args.downtime_ms, max_bandwidth_mbps=0,
                            timeout_s=MIGRATION_TIMEOUT)
        if "return" not in reply:
            raise RuntimeError(f"wren migrate: {reply}")
        code = src.wait_exit(timeout=MIGRATION_TIMEOUT + 60)
        err = src.stderr_path.read_text()
        done = re.search(r"completed: ([\d.]+) MB in (\d+) ms, downtime (\d+) ms", err)
        if code != 0 or not done:
            raise RuntimeError(f"wren source exited {code} without completing:\n{err[-2000:]}")
        rounds = max(int(r) for r in re.findall(r"wren: migration: .* round (\d+):", err))  # for the log
        # Wren's own downtime runs from pausing the guest to the destination's CommitAck.
        return dict(stop_to_resume_ms=int(done.group(3)), own_downtime_ms=int(done.group(3)),
                    total_ms=int(done.group(2)), mb=float(done.group(1)), rounds=rounds)


class QemuDriver:
    name = "qemu"

    def vm(self, ns, name, incoming=None):
        return QemuVm(ns, kernel, initrd, cmdline, args.memory_mb, name=name, workdir=workdir, mac=GUEST_MAC,
                      incoming=incoming)

    def boot(self, ns):
        return self.vm(ns, "qemu-boot")

    def destination(self, ns, ip, name):
        vm = self.vm(ns, name, incoming=f"tcp:{ip}:{PORT}")
        vm.__enter__()
        wait_until(lambda: vm.api.exists() and "return" in vm.request("query-status"), vm, "QMP")
        return vm

    def migrate(self, src, dst, ip):
        # QEMU's own default bandwidth cap (32 MiB/s) would throttle it; Wren has none by default.
        reply = src.request("migrate-set-parameters", **{"downtime-limit": args.downtime_ms,
                                                         "max-bandwidth": 100 << 30})
        if "return" not in reply:
            raise RuntimeError(f"qemu migrate-set-parameters: {reply}")
        first_event = len(src.events)
        reply = src.request("migrate", uri=f"tcp:{ip}:{PORT}")
        if "return" not in reply:
            raise RuntimeError(f"qemu migrate: {reply}")
        deadline = time.time() + MIGRATION_TIMEOUT
        while time.time() < deadline:
            st = src.request("query-migrate")["return"]
            if st.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        if st.get("status") != "completed":
            raise RuntimeError(f"qemu migration ended: {st}")
        wait_until(lambda: "return" in dst.request("query-status") and dst.event_time("RESUME"), dst, "RESUME")
        stopped, resumed = src.event_time("STOP", since=first_event), dst.event_time("RESUME")
        with contextlib.suppress(OSError):  # QEMU may close before its reply
            src.request("quit")
        src.wait_exit(timeout=60)
        return dict(stop_to_resume_ms=round((resumed - stopped) * 1000), own_downtime_ms=st["downtime"],
                    total_ms=st["total-time"], mb=st["ram"]["transferred"] / 1e6,
                    rounds=st["ram"]["dirty-sync-count"])  # syncs of the dirty bitmap, for the log


def wait_until(ready, vm, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(OSError):
            if ready():
                return
        if vm.proc.poll() is not None:
            vm.dump()
            raise RuntimeError(f"{vm.api.stem}: exited ({vm.proc.returncode}) before {what}")
        time.sleep(0.2)
    raise RuntimeError(f"{vm.api.stem}: no {what} within {timeout}s")


class Run:
    """One VMM's two hosts and its guest, wherever it currently runs."""

    def __init__(self, driver, stack):
        self.driver = driver
        self.stack = stack
        self.hosts = {"A": stack.enter_context(Netns(bridge=True, host_ip=f"{HOST_IPS['A']}/24")),
                      "B": stack.enter_context(Netns(bridge=True, host_ip=f"{HOST_IPS['B']}/24"))}
        join_hosts(self.hosts["A"], self.hosts["B"])
        self.host = "A"
        self.vm = None
        self.results = {}

    def boot(self):
        self.vm = self.stack.enter_context(self.driver.boot(self.hosts["A"]))
        self.vm.wait_for(r"WREN-TEST: step 1 wait", timeout=BOOT_TIMEOUT)
        ok, _, out = self.hosts["A"].ping_until(GUEST_IP)
        if not ok:
            raise RuntimeError(f"{self.driver.name}: the guest does not answer pings:\n{out}")
        log(f"{self.driver.name}: guest up and answering")

    def start_dirtying(self):
        advance(self.vm, LAST_WAIT)
        self.vm.wait_for(rf"WREN-TEST: step {DIRTY_STEP} done rc=0", timeout=300)
        start = len(self.vm.console())
        self.vm.wait_for(r"WREN-TEST: counter=\d+", timeout=300, start=start)
        log(f"{self.driver.name}: guest dirtying memory")

    def migrate(self, scenario):
        dst_host = "B" if self.host == "A" else "A"
        ip = HOST_IPS[dst_host]
        dst = self.driver.destination(self.hosts[dst_host], ip, f"{self.driver.name}-{scenario}")
        self.stack.callback(dst.__exit__, None, None, None)
        pinger = Pinger(self.hosts["A"], workdir / f"{self.driver.name}-{scenario}.ping")
        try:
            time.sleep(3)  # a baseline of undisturbed replies
            log(f"{self.driver.name}: migrating ({scenario}) host {self.host} -> host {dst_host}")
            start = time.time()
            vmm_figures = self.driver.migrate(self.vm, dst, ip)
            resumed = pinger.wait_reply_after(time.time())
            time.sleep(2)
        finally:
            pinger.stop()
        if not resumed:
            raise RuntimeError(f"{self.driver.name}: no ping reply after the {scenario} migration")
        (gap, gap_from, gap_to), baseline, rtt, lost = ping_stats(pinger.replies(), start)
        idle_ok = scenario != "idle" or f"step {DIRTY_STEP} " not in dst.console()
        self.results[scenario] = dict(gap_ms=gap * 1000, **vmm_figures,
                                      baseline_ms=baseline * 1000, rtt_ms=rtt, lost=lost, valid=idle_ok,
                                      gap_from_s=round(gap_from, 3), gap_to_s=round(gap_to, 3))
        log(f"{self.driver.name} {scenario}: {self.results[scenario]}")
        if not idle_ok:
            log(f"{self.driver.name}: WARNING the guest started dirtying during the idle migration")
        self.vm, self.host = dst, dst_host


ROWS = [("ping gap (guest downtime)", "gap_ms", "ms"), ("VMM stop-to-resume", "stop_to_resume_ms", "ms"),
        ("VMM's own downtime figure", "own_downtime_ms", "ms"), ("total migration time", "total_ms", "ms"),
        ("data sent", "mb", "MB"),
        ("ping gap before migrating", "baseline_ms", "ms"), ("ping round trip before (median)", "rtt_ms", "ms"),
        ("ping requests lost", "lost", "")]


def print_table(runs):
    names = [r.driver.name for r in runs]
    header = f"{'scenario':9s} {'metric':32s}" + "".join(f"{n:>10s}" for n in names)
    if len(runs) == 2:
        header += f"{'wren/qemu':>11s}"
    print("\n" + header)
    print("-" * len(header))
    for scenario in ("idle", "dirtying"):
        for label, key, unit in ROWS:
            vals = [r.results[scenario][key] for r in runs]
            line = f"{scenario:9s} {label + (f' ({unit})' if unit else ''):32s}"
            line += "".join(f"{v:10.1f}" if isinstance(v, float) else f"{v:10d}" for v in vals)
            if len(runs) == 2:
                line += f"{vals[0] / vals[1]:11.2f}" if vals[1] else f"{'-':>11s}"
            print(line)
    for r in runs:
        for scenario, res in r.results.items():
            if not res["valid"]:
                print(f"note: {r.driver.name} {scenario}: the guest was already dirtying memory")
    pace = "adaptive pings" if args.ping_interval is None else f"a ping every {args.ping_interval * 1000:g} ms"
    print(f"memory {args.memory_mb} MiB, downtime budget {args.downtime_ms} ms, {pace} from host A; logs in {workdir}")


drivers = {"wren": [WrenDriver()], "qemu": [QemuDriver()], "both": [WrenDriver(), QemuDriver()]}[args.vmm]
with contextlib.ExitStack() as stack:
    runs = [Run(d, stack) for d in drivers]
    log(f"booting {', '.join(d.name for d in drivers)} (minutes on this machine); logs in {workdir}")
    with cf.ThreadPoolExecutor(len(runs)) as pool:
        list(pool.map(Run.boot, runs))
    for r in runs:
        r.migrate("idle")
    for r in runs:
        r.start_dirtying()
    for r in runs:
        r.migrate("dirtying")
    print_table(runs)
