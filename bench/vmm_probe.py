"""Shared pieces of the benchmark scripts: boot a VMM (Wren or QEMU) in a
scratch network namespace, time it to a console line, and measure its
memory overhead (resident memory outside the guest-RAM mapping)."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import harness  # noqa: E402


def overhead_kib(pid, guest_ram_bytes):
    """Sum of Rss over every mapping smaller than guest RAM: the VMM's own memory."""
    total, size = 0, 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
        if m:
            size = int(m.group(2), 16) - int(m.group(1), 16)
        elif line.startswith("Rss:") and size < guest_ram_bytes:
            total += int(line.split()[1])
    return total


def wren_cmd(kernel, initrd, cmdline, mem_mb, serial, net_tap=None, test_exit=False, firmware=None, api=None):
    cmd = [harness.wren_binary(), "run", "--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline,
           "--memory", f"{mem_mb}M", "--serial", f"file:{serial}"]
    if firmware:
        cmd += ["--firmware", firmware]
    if net_tap:
        cmd += ["--net", f"tap={net_tap}"]
    if test_exit:
        cmd += ["--test-exit", "iobase=0xf4,iosize=4"]
    if api:
        cmd += ["--api", f"unix:{api}"]
    return cmd


def qemu_cmd(kernel, initrd, cmdline, mem_mb, serial, net_tap=None, test_exit=False, mac=None, qmp=None,
             incoming=None, firmware=None):
    # -cpu host fails here (QEMU cannot set MSR 0x10a on this backend): use its default model.
    cmd = ["qemu-system-x86_64", "-enable-kvm", "-m", str(mem_mb), "-smp", "1",
           "-nographic", "-no-reboot", "-nodefaults", "-serial", f"file:{serial}", "-display", "none",
           "-kernel", kernel, "-initrd", initrd, "-append", cmdline]
    if firmware:
        cmd += ["-bios", firmware]
    if net_tap:
        cmd += ["-netdev", f"tap,id=n0,ifname={net_tap},script=no,downscript=no,vhost=off",
                "-device", "virtio-net-pci,netdev=n0" + (f",mac={mac}" if mac else "")]
    if test_exit:
        cmd += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if qmp:
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    if incoming:
        cmd += ["-incoming", incoming]
    return cmd


class QemuVm(harness.Wren):
    """QEMU in a namespace, driven like harness.Wren: serial to a file, and
    request() speaking QMP on a unix socket instead of Wren's control socket.
    QEMU serves one QMP client at a time, so one connection carries every
    command; the events read on the way are kept in `events`."""

    def __init__(self, netns, kernel, initrd, cmdline, mem_mb, name="qemu", workdir=None, mac=None, incoming=None):
        super().__init__(netns, [], name=name, workdir=workdir)
        self.qemu_args = dict(kernel=kernel, initrd=initrd, cmdline=cmdline, mem_mb=mem_mb, mac=mac,
                              incoming=incoming)
        self.qmp = None
        self.events = []

    def command(self):
        a = self.qemu_args
        return qemu_cmd(a["kernel"], a["initrd"], a["cmdline"], a["mem_mb"], self.serial, net_tap=self.netns.tap,
                        mac=a["mac"], qmp=self.api, incoming=a["incoming"])

    def __exit__(self, *exc):
        if self.qmp:
            self.qmp.close()
        super().__exit__(*exc)

    def request(self, command, **args):
        """Runs one QMP command; returns the reply ("return" or "error")."""
        if self.qmp is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(30)
            try:
                sock.connect(str(self.api))
                qmp = sock.makefile("rw")
            finally:
                sock.close()  # the file keeps the connection open
            qmp.readline()  # greeting
            self.qmp = qmp
            self._call("qmp_capabilities")
        return self._call(command, args)

    def _call(self, command, args=None):
        self.qmp.write(json.dumps({"execute": command, **({"arguments": args} if args else {})}) + "\n")
        self.qmp.flush()
        while True:
            line = self.qmp.readline()
            if not line:
                raise OSError(f"QMP connection closed during {command}")
            msg = json.loads(line)
            if "event" in msg:
                self.events.append(msg)
            elif "return" in msg or "error" in msg:
                return msg

    def event_time(self, name, since=0):
        """Host time (s) of the first `name` event from events[since:], or None."""
        for e in self.events[since:]:
            if e["event"] == name:
                return e["timestamp"]["seconds"] + e["timestamp"]["microseconds"] / 1e6
        return None


def boot_until(netns, cmd, serial, pattern, guest_ram_bytes, timeout=900):
    """Starts cmd in netns; returns (seconds to pattern, overhead KiB, proc)."""
    serial = Path(serial)
    serial.unlink(missing_ok=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(["ip", "netns", "exec", netns.name, *cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(proc, serial, pattern, timeout)
    except TimeoutError:
        proc.kill()
        raise
    elapsed = time.monotonic() - t0
    # ip netns exec execs the VMM, so proc.pid is the VMM itself.
    return elapsed, overhead_kib(proc.pid, guest_ram_bytes), proc


def wait_for(proc, serial, pattern, timeout, start=0):
    """Waits until `pattern` (regex) appears in the serial log at or after
    offset `start`; returns the match. proc is one boot_until started.
    Raises RuntimeError if proc exits, TimeoutError after timeout seconds."""
    serial, rx = Path(serial), re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = serial.exists() and rx.search(serial.read_text(errors="replace"), start)
        if m:
            return m
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[4]} exited early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"{proc.args[4]}: no /{pattern}/ within {timeout}s")


KVM_RUN = 0xAE80  # _IO(KVMIO, 0x80)


def cpu_seconds(pid, tids=None):
    """utime + stime from /proc/PID/stat: all threads, or only the threads tids."""
    paths = [f"/proc/{pid}/stat"] if tids is None else [f"/proc/{pid}/task/{t}/stat" for t in tids]
    total = 0
    for path in paths:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def vcpu_threads(pid, attempts=100):
    """The threads of pid inside ioctl(KVM_RUN), where an idle guest's vCPU
    threads sit, sampled from /proc/PID/task/*/syscall until some are found.
    KVM's own worker threads (comm kvm-*) show their creator's registers: left out."""
    for _ in range(attempts):
        tids = set()
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                call = (task / "syscall").read_text().split()
                comm = (task / "comm").read_text().strip()
            except OSError:
                continue  # the thread ended
            if call[0] == "16" and int(call[2], 16) == KVM_RUN and not comm.startswith("kvm-"):
                tids.add(int(task.name))
        if tids:
            return tids
        time.sleep(0.01)
    raise RuntimeError(f"no thread of {pid} is in KVM_RUN")


def guest_time_threads(pid):
    """The threads of pid that have run a guest (guest_time, field 43 of
    /proc/PID/task/TID/stat, above 0): the vCPU threads, also while they are
    busy in the guest, where vcpu_threads cannot see them."""
    tids = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        if int(fields[40]) > 0:
            tids.add(int(task.name))
    return tids


def vcpu_exit_counts(qmp):
    """KVM's cumulative per-vCPU counters (exits by reason, emulated
    instructions, halt time...), summed over the vCPUs, from QMP query-stats
    (Wren and QEMU answer it alike). qmp: a harness.QmpConnection."""
    schemas = qmp.request("query-stats-schemas", provider="kvm")
    reply = qmp.request("query-stats", target="vcpu", providers=[{"provider": "kvm"}])
    if "return" not in reply or "return" not in schemas:
        raise RuntimeError(f"query-stats refused: {reply} {schemas}")
    cumulative = {v["name"] for s in schemas["return"] if s["target"] == "vcpu" for v in s["stats"]
                  if v["type"] == "cumulative"}
    totals = {}
    for result in reply["return"]:
        for stat in result["stats"]:
            v = stat["value"]
            if stat["name"] in cumulative and isinstance(v, int) and not isinstance(v, bool):
                totals[stat["name"]] = totals.get(stat["name"], 0) + v
    return totals


def percentile(xs, p):
    """Nearest-rank p-th percentile (0 < p <= 100)."""
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * p // 100) - 1)]


def run_to_exit(netns, cmd, timeout=300):
    """Runs cmd in netns until it exits; returns (seconds, exit status)."""
    t0 = time.monotonic()
    proc = subprocess.run(["ip", "netns", "exec", netns.name, *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=timeout)
    return time.monotonic() - t0, proc.returncode


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
