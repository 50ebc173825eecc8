"""Issue 13, a hostile driver guest: the multiboot test kernel with the word
`hostile` (guest-images/multiboot-test/hostile.c) drives Wren's NIC as a
broken virtio-net driver, over the modern virtio-pci capabilities or the
transitional device's legacy I/O BAR. Each case is followed by a device reset
and a normal transmit; the kernel then waits on its receive queue for this
test's go-ahead frame, so every check below runs between two cases:

  - the VMM is alive (query-status answers over the control socket);
  - the device set NEEDS_RESET exactly where it must (a ring or a buffer
    outside RAM, an indirect table above Wren's limit) and not where the
    right answer is to drop and count (oversized frames, receive buffers
    shorter than the header, a queue size that is not a power of two);
  - query-counters shows the drops;
  - the frames sent after each reset, and the valid frames of the cases,
    arrive on the TAP in this test's namespace;
  - in the end the VMM exits through the test-exit port with (N << 1) | 1.
"""

import argparse
import re
import subprocess
import sys
import threading
import time

import harness
from harness import Check, Netns, Wren, log

parser = argparse.ArgumentParser()
parser.add_argument("--transport", choices=["modern", "transitional"], required=True)
opts = parser.parse_args()
modern = opts.transport == "modern"

GUESTS = {"modern": "multiboot-hostile-modern", "transitional": "multiboot-hostile-transitional"}
EXIT_CODE = 9
CASE_TIMEOUT = 300  # seconds from one case line to the next, on the nested software KVM

# What each case must leave behind (needs_reset, used; None: any). The guest
# reports the device status it read after the case.
EXPECTED = {
    "tx-oversized": (0, 2),          # both chains dropped and returned, counted as too big
    "tx-many-pieces": (0, 2),        # 256 direct and 1024 indirect pieces: both sent
    "tx-too-many-pieces": (1, 0),    # 1025 indirect entries: a broken queue
    "rx-short": (0, 0),              # buffers kept, frames dropped and counted
    # One-byte mergeable buffers: a 100-byte frame and its header take 112 of
    # them, so two frames are delivered (224 used) and the rest wait.
    "rx-short-mergeable": (0, 224),
    "ring-outside-ram": (1, 0) if modern else (0, 0),  # legacy has no NEEDS_RESET: PFN reads 0
    "buffer-outside-ram": (1, 0),
    "queue-size-npot": (0, 1),       # size register keeps 256; a frame goes through
    "used-overlaps-desc": (None, None) if modern else None,  # legacy: not applicable
}

# A helper inside the namespace: captures what the guest sends on the TAP
# (prints each WRENHOSTILE:<tag>) and sends frames on request ("go": the
# go-ahead, ethertype 0x88b6; "burst": five broadcast frames to receive).
HELPER = r"""
import socket, struct, sys, threading, time
tap = sys.argv[1]
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
cap.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)  # past rmem_max (root)
cap.bind((tap, 0))
out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
out.bind((tap, 0))
lock = threading.Lock()
def say(line):  # one whole line at a time: both threads report
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
def capture():
    while True:
        f = cap.recv(65536)
        i = f.find(b"WRENHOSTILE:")
        if i >= 0:
            tag = f[i + 12:].split(b"\0", 1)[0].decode(errors="replace")
            say(f"captured {tag} {len(f)}")
threading.Thread(target=capture, daemon=True).start()
src = bytes.fromhex("020000000001")
say("ready")
for line in sys.stdin:
    word = line.strip()
    if word == "go":
        out.send(b"\xff" * 6 + src + struct.pack("!H", 0x88B6) + b"WRENGO".ljust(46, b"\0"))
    elif word == "burst":
        for _ in range(5):
            out.send(b"\xff" * 6 + src + struct.pack("!H", 0x88B7) + b"WRENBURST".ljust(86, b"\0"))
            time.sleep(0.1)
    say(f"sent {word}")
"""

LINE = re.compile(r"hostile: (\S+)( recovered)? status=0x([0-9a-f]{2}) needs_reset=(\d) used=(\d+)(.*)")

check = Check()


class Helper:
    def __init__(self, ns):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", HELPER, ns.tap],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.captured, self.ready = [], threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(30):
            raise SystemExit("the namespace helper did not start")

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("captured "):
                self.captured.append(line.split()[1])

    def send(self, word):
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def saw(self, tag, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if tag in self.captured:
                return True
            time.sleep(0.2)
        return False

    def close(self):
        self.proc.kill()
        self.proc.wait()


def counters(vm):
    reply = vm.request("query-counters")["return"]
    return next(iter(reply.values()))


def alive(vm):
    try:
        reply = vm.request("query-status")
        return "return" in reply, reply
    except OSError as e:
        return False, str(e)


# The receive cases count the buffers the burst fills: no other frame may
# arrive (an IPv6 router solicitation from the TAP once took 82 of them).
with Netns(ipv6=False) as ns:
    helper = Helper(ns)
    guest = harness.manifest_guest(GUESTS[opts.transport])
    args = harness.boot_args(guest, cmdline=f"hostile exit={EXIT_CODE}", tap=ns.tap, test_exit="iobase=0xf4")
    try:
        with Wren(ns, args, name=f"hostile-{opts.transport}") as vm:
            pos, seen_cases, last = 0, [], {}
            before = None
            while True:
                try:
                    m = vm.wait_for(r"hostile: (\S+ recovered|\S+ posted|done|no virtio-net)[^\n]*\n",
                                    timeout=CASE_TIMEOUT, start=pos)
                except AssertionError as e:
                    check("the guest runs every case", False, str(e))
                    break
                pos = m.end()
                text = m.group(1)
                if text.startswith("done") or text.startswith("no virtio-net"):
                    check("the guest found the NIC and ran every case", text.startswith("done"), text)
                    break
                if text.endswith(" posted"):
                    before = counters(vm)
                    helper.send("burst")
                    continue
                name = text.split()[0]
                console = vm.console()
                ok, reply = alive(vm)
                check(f"{name}: the VMM is alive (query-status answers)", ok, reply)
                lines = {(g.group(1), bool(g.group(2))): g for g in LINE.finditer(console)}
                expected = EXPECTED.get(name)
                case_line = lines.get((name, False))
                if expected is None:
                    check(f"{name}: not applicable on the legacy interface",
                          f"hostile: {name} not applicable" in console)
                elif case_line is None:
                    check(f"{name}: the guest reported the case", False, console[-500:])
                else:
                    needs_reset, used = int(case_line.group(4)), int(case_line.group(5))
                    log(f"{name}: {case_line.group(0)}")
                    if expected[0] is not None:
                        check(f"{name}: NEEDS_RESET {'set' if expected[0] else 'not set'}",
                              needs_reset == expected[0], case_line.group(0))
                    if expected[1] is not None:
                        check(f"{name}: {expected[1]} chains returned", used == expected[1], case_line.group(0))
                rec = lines.get((name, True))
                check(f"{name}: after a reset the device works again (TX completes, no NEEDS_RESET)",
                      rec is not None and rec.group(4) == "0" and rec.group(5) == "1", rec and rec.group(0))
                arrived = helper.saw(f"{name}-recovered")
                check(f"{name}: the frame sent after the reset arrives on the TAP", arrived,
                      f"captured {helper.captured}; counters {counters(vm)}; " + ("" if arrived else ns.run(
                          "ip", "-s", "-s", "link", "show", ns.tap, capture_output=True, text=True).stdout))
                c = counters(vm)
                last[name] = c
                if name == "tx-oversized":
                    check("tx-oversized: query-counters shows both oversized chains dropped",
                          c["tx_dropped_too_big"] >= 2, c)
                if name == "tx-many-pieces":
                    for tag in ("pieces-direct", "pieces-indirect"):
                        check(f"tx-many-pieces: the {tag} frame arrives on the TAP", helper.saw(tag),
                              f"captured {helper.captured}, counters {c}")
                if name == "rx-short":
                    check("rx-short: query-counters shows frames dropped for buffers too short",
                          before is not None and c["rx_dropped_too_big"] > before["rx_dropped_too_big"],
                          f"before {before} after {c}")
                if name == "rx-short-mergeable":
                    # The burst's other frames wait and land in the buffers posted after the reset.
                    check("rx-short-mergeable: query-counters shows the frames received",
                          before is not None and c["rx_packets"] - before["rx_packets"] >= 2, f"before {before} after {c}")
                if name == "queue-size-npot":
                    size = re.search(r"hostile: queue-size-npot .* size=(\d+)", console)
                    check("queue-size-npot: the size register keeps 256", size and size.group(1) == "256",
                          size and size.group(0))
                    check("queue-size-npot: its frame arrives on the TAP", helper.saw("queue-size-npot"),
                          helper.captured)
                seen_cases.append(name)
                helper.send("go")
                try:
                    got = vm.wait_for(rf"hostile: {name} (go|no go)\n", timeout=CASE_TIMEOUT, start=pos)
                    check(f"{name}: the guest receives again after the reset (the go-ahead frame)",
                          got.group(1) == "go", got.group(0))
                    pos = got.end()
                except AssertionError as e:
                    check(f"{name}: the guest receives again after the reset (the go-ahead frame)", False, str(e))
                    break
            check("every case ran", sorted(seen_cases) == sorted(EXPECTED), seen_cases)
            try:
                status = vm.wait_exit(timeout=CASE_TIMEOUT)
            except subprocess.TimeoutExpired:
                status = None
            expected_status = (EXIT_CODE << 1) | 1
            check(f"wren exits through the test-exit port with {expected_status}", status == expected_status,
                  f"status {status}")
            stderr = vm.stderr_path.read_text()
            check("no VMM error report", "stopped:" not in stderr, stderr[-800:])
            log("VMM warnings:\n" + "\n".join(line for line in stderr.splitlines() if "warn" in line)[-3000:])
            if check.failed:
                vm.dump()
    finally:
        helper.close()

check.finish()
