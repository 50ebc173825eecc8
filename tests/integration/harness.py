"""Integration-test harness: builds (or finds cached) test guests, creates
network namespaces with a TAP, runs wren inside them, and reads the guest's
serial console.  Every resource a test creates is torn down in __exit__."""

import json
import os
import re
import shutil
import shlex
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUEST_IMAGES = REPO / "guest-images"
BOOT_TIMEOUT = int(os.environ.get("WREN_BOOT_TIMEOUT", "900"))  # software KVM: boots take minutes


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wren_binary():
    path = os.environ.get("WREN_BINARY", str(REPO / "build" / "wren"))
    if not os.access(path, os.X_OK):
        raise SystemExit(f"wren binary not found at {path} (set WREN_BINARY)")
    return path


def guest_images():
    """Returns (kernel, initrd), from the environment or the cached build."""
    kernel, initrd = os.environ.get("WREN_KERNEL"), os.environ.get("WREN_INITRD")
    if kernel and initrd:
        return kernel, initrd
    out = subprocess.run(["bash", str(GUEST_IMAGES / "build-all.sh")], check=True,
                         capture_output=True, text=True).stdout
    vals = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return vals["KERNEL"], vals["INITRD"]


def multiboot_test_kernels():
    """(ELF, a.out-kludge) forms of guest-images/multiboot-test: from the build
    tree beside the wren binary (CMake builds them), else built now."""
    out = Path(wren_binary()).parent / "guest-images" / "multiboot-test"
    if not (out / "multiboot-test.elf").exists():
        out = Path(tempfile.mkdtemp(prefix="wren-multiboot-test-"))
        subprocess.run(["bash", str(GUEST_IMAGES / "multiboot-test" / "build.sh"), str(out)], check=True,
                       stdout=subprocess.DEVNULL)
    return str(out / "multiboot-test.elf"), str(out / "multiboot-test-aout.bin")


def disk_boot_images():
    """{"BOOT_DISK": ..., "ROOT_DISK": ...} from guest-images/disk-boot/build.sh
    (cached), made from the same kernel and initramfs as guest_images()."""
    kernel, initrd = guest_images()
    out = subprocess.run(["bash", str(GUEST_IMAGES / "disk-boot" / "build.sh")], check=True,
                         stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "WREN_KERNEL": kernel, "WREN_INITRD": initrd}).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def default_workdir():
    """Where a test's consoles, control sockets and VMM logs go; removed
    when every check passed (Check.finish), kept for a look otherwise."""
    return Path(f"/tmp/wren-it-{os.getpid()}")


def compat_cmdline():
    """The test-harness profile for this machine's software KVM backend."""
    profile = os.environ.get("WREN_GUEST_PROFILE", "pvm-compat")
    return (GUEST_IMAGES / "profiles" / f"{profile}.cmdline").read_text().strip()


# The guest manifest (guest-images/manifest.json): each guest's artifacts,
# wren arguments with {placeholders}, healthy-console regex and tests.
MANIFEST = GUEST_IMAGES / "manifest.json"
# Build scripts the manifest may name, and how to get their outputs by name.
MANIFEST_BUILDERS = {
    "guest-images/build-all.sh": lambda: dict(zip(("KERNEL", "INITRD"), guest_images())),
    "guest-images/multiboot-test/build.sh":
        lambda: dict(zip(("multiboot-test.elf", "multiboot-test-aout.bin"), multiboot_test_kernels())),
    "guest-images/disk-boot/build.sh": disk_boot_images,
}


def manifest():
    return json.loads(MANIFEST.read_text())


def manifest_guest(name):
    """The manifest entry for guest `name`."""
    for guest in manifest()["guests"]:
        if guest["name"] == name:
            return guest
    raise SystemExit(f"guest {name!r} is not in {MANIFEST}")


_built = {}


def artifact(name):
    """Path of a manifest artifact: $env override, Debian package file, or build output."""
    a = manifest()["artifacts"][name]
    if a.get("env") and os.environ.get(a["env"]):
        return os.environ[a["env"]]
    if "package" in a:
        if not Path(a["path"]).exists():
            raise SystemExit(f"{a['path']} is missing: install the Debian package {a['package']} "
                             "(scripts/install-deps.sh)")
        return a["path"]
    if a["build"] not in _built:
        _built[a["build"]] = MANIFEST_BUILDERS[a["build"]]()
    return _built[a["build"]][a["output"]]


def boot_args(guest, **values):
    """`guest`'s wren arguments, placeholders filled from `values`, else from
    its artifacts (all of which must exist, also those not named in them)."""
    for needed in guest["needs"]:
        if needed not in values:
            values[needed] = artifact(needed)

    def fill(m):
        if m.group(1) not in values:
            raise KeyError(f"guest {guest['name']}: no value for {{{m.group(1)}}}")
        return str(values[m.group(1)])

    return [re.sub(r"\{(\w+)\}", fill, arg) for arg in guest["boot"]]


class Netns:
    """A network namespace owned by one test, with a TAP device in it. With
    bridge=True the TAP is enslaved to a bridge br0 that holds the host
    address, so that a veth can join the guest's link to another namespace
    (a second "host", see join_hosts). With ipv6=False the TAP sends no IPv6
    of its own (router solicitations, DAD, MLD reports), for tests that count
    every frame the guest receives."""

    _counter = 0

    def __init__(self, tap="tap0", host_ip="10.77.0.1/24", multi_queue=False, bridge=False, ipv6=True):
        Netns._counter += 1
        self.ipv6 = ipv6
        self.multi_queue = multi_queue
        self.bridge = bridge
        self.name = f"wren-t{os.getpid()}-{Netns._counter}"
        self.tap = tap
        self.host_ip = host_ip

    def run(self, *cmd, check=True, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=check, **kw)

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")
        # A TAP must be attached the way it was created: multi_queue only for queues > 1.
        self.run("ip", "tuntap", "add", "dev", self.tap, "mode", "tap", "vnet_hdr",
                 *(["multi_queue"] if self.multi_queue else []))
        if self.bridge:
            self.run("ip", "link", "add", "br0", "type", "bridge")
            self.run("ip", "link", "set", self.tap, "master", "br0")
            self.run("ip", "link", "set", "br0", "up")
        if not self.ipv6:
            self.run("sysctl", "-q", f"net.ipv6.conf.{self.tap}.disable_ipv6=1")
        self.run("ip", "addr", "add", self.host_ip, "dev", "br0" if self.bridge else self.tap)
        self.run("ip", "link", "set", self.tap, "up")
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], check=False)

    def ping_until(self, addr, attempts=20):
        """Pings once per attempt (5 s timeout each) until a reply; returns (ok, attempts used, last output)."""
        out = ""
        for i in range(1, attempts + 1):
            ok, out = self.ping(addr, count=1, timeout=5)
            if ok:
                return True, i, out
        return False, attempts, out

    def ping(self, addr, count=1, timeout=5):
        r = self.run("ping", "-c", str(count), "-W", str(timeout), addr, check=False,
                     capture_output=True, text=True)
        return r.returncode == 0, r.stdout

    def send_probe(self, dst_mac, tag, vlan=None, src_mac="02:00:00:00:00:01"):
        """Sends one 0x88B5 frame whose payload is WRENPROBE:<tag> out of the TAP."""
        code = (
            "import socket,struct,sys\n"
            "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
            f"s.bind(({self.tap!r},0))\n"
            f"dst=bytes.fromhex({dst_mac.replace(':', '')!r});src=bytes.fromhex({src_mac.replace(':', '')!r})\n"
            f"vlan={vlan!r}\n"
            "tag=b'' if vlan is None else struct.pack('!HH',0x8100,vlan)\n"
            f"payload=b'WRENPROBE:'+{tag!r}.encode()+b'\\0'\n"
            "f=dst+src+tag+struct.pack('!H',0x88B5)+payload\n"
            "s.send(f+b'\\0'*max(0,60-len(f)))\n"
        )
        self.run(sys.executable, "-c", code)


def join_hosts(a, b, veth="veth0"):
    """Joins the bridges of two bridge=True namespaces with a veth pair (named
    `veth` on both sides), as if two hosts shared the guest's L2 segment."""
    subprocess.run(["ip", "link", "add", veth, "netns", a.name, "type", "veth", "peer", "name", veth,
                    "netns", b.name], check=True)
    for ns in (a, b):
        ns.run("ip", "link", "set", veth, "master", "br0")
        ns.run("ip", "link", "set", veth, "up")


class Wren:
    """A wren process running inside a namespace, serial to a file, with a control socket."""

    def __init__(self, netns, args, name="wren", workdir=None):
        self.netns = netns
        self.workdir = Path(workdir or default_workdir())
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.serial = self.workdir / f"{name}.serial"
        self.api = self.workdir / f"{name}.api"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.args = args
        self.proc = None

    def command(self):
        return [wren_binary(), "run", "--serial", f"file:{self.serial}", "--api", f"unix:{self.api}", *self.args]

    def __enter__(self):
        cmd = self.command()
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns.name, *cmd]
        log("starting: " + " ".join(shlex.quote(c) for c in cmd))
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr)
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()
        if exc[0] is not None:
            self.dump()

    def dump(self):
        for p in (self.serial, self.stderr_path):
            if p.exists():
                text = p.read_text(errors="replace")
                print(f"----- {p} (last 80 lines) -----\n" + "\n".join(text.splitlines()[-80:]), flush=True)

    def console(self):
        return self.serial.read_text(errors="replace") if self.serial.exists() else ""

    def stderr_text(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def wait_for(self, pattern, timeout=BOOT_TIMEOUT, start=0, text=None):
        """Waits until `pattern` (regex) appears in the console (or in what
        `text` returns, e.g. self.stderr_text) at or after offset `start`."""
        rx = re.compile(pattern)
        read = text or self.console
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = rx.search(read(), start)
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"wren exited ({self.proc.returncode}) before /{pattern}/ appeared")
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for /{pattern}/")

    def wait_exit(self, timeout=300):
        return self.proc.wait(timeout=timeout)

    def wait_api(self, timeout=60):
        """Waits until the control socket answers; returns query-status's reply."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                return self.request("query-status")
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"wren exited ({self.proc.returncode}) before its control socket came up")
                time.sleep(0.2)
        raise AssertionError("control socket never came up")

    def wait_migration(self, timeout=600, until=("completed", "failed", "cancelled")):
        """Polls query-migrate (QEMU's MigrationInfo) on a source until its
        status is in `until`; returns the last reply."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.request("query-migrate")["return"]
            except OSError:
                # A completed source removes its control socket, then exits.
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"control socket gone while the migration was {last}") from None
                return last
            if last.get("status", "none") in until:
                return last
            time.sleep(0.2)
        raise AssertionError(f"migration still {last} after {timeout}s")

    def request(self, command, **args):
        """Runs one QMP command on a fresh control-socket connection; returns the reply."""
        with QmpConnection(self.api) as q:
            return q.request(command, **args)


class QmpConnection:
    """A QMP client for Wren's control socket (the shared helper of every test
    and bench script): reads the greeting, negotiates capabilities, then
    sends requests and keeps the events that arrive in between."""

    def __init__(self, path, timeout=30, connect_timeout=0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.time() + connect_timeout
        while True:
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                if time.time() >= deadline:
                    self.sock.close()
                    raise
                time.sleep(0.2)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events = []
        self.greeting = self.read()
        if self.greeting is None:
            raise ConnectionResetError(f"{path} closed before greeting")
        assert "QMP" in self.greeting, f"not a QMP greeting: {self.greeting}"
        reply = self.request("qmp_capabilities")
        assert reply == {"return": {}}, f"qmp_capabilities refused: {reply}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def read(self):
        """The next message (reply, event or greeting); None when the peer closed."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, command, **args):
        msg = {"execute": command}
        if args:
            msg["arguments"] = args
        self.sock.sendall((json.dumps(msg) + "\n").encode())
        while True:
            reply = self.read()
            if reply is None:
                raise ConnectionResetError(f"the control socket closed before replying to {command}")
            if "event" in reply:
                self.events.append(reply)
            else:
                return reply


def event_time(event):
    """A QMP event's timestamp in seconds since the epoch, as a float."""
    ts = event["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


class EventWatcher:
    """Keeps one negotiated control-socket connection open and collects its events."""

    def __init__(self, api_path):
        import threading
        self.events = []
        self.qmp = QmpConnection(api_path, timeout=None, connect_timeout=30)
        self.sock = self.qmp.sock
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                msg = self.qmp.read()
            except (OSError, ValueError):
                return
            if msg is None:
                return
            if "event" in msg:
                self.events.append(msg)

    def named(self, name):
        return [e for e in self.events if e["event"] == name]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Check:
    """Counts named assertions so one boot can report many results."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            log(f"PASS {name}")
        else:
            self.failed.append(name)
            log(f"FAIL {name} {detail}")

    def finish(self):
        print(f"{self.passed} passed, {len(self.failed)} failed", flush=True)
        if self.failed:
            print(f"logs kept in {default_workdir()}", flush=True)
            raise SystemExit(1)
        shutil.rmtree(default_workdir(), ignore_errors=True)
