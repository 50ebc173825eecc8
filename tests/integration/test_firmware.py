"""Issue 7, firmware boot: Debian's SeaBIOS runs from the reset vector, finds
Wren's fw_cfg, and boots Debian's ipxe.lkrn through it (the kernel, with an
iPXE script as its initrd, loaded by QEMU's linuxboot_dma option ROM). iPXE's
own virtio-net driver opens Wren's NIC, configures a static address and
fetches two files over HTTP from a server in the test's namespace:

  - payload.bin, random bytes; iPXE's `imgstat` must report its exact size;
  - check.ipxe, a script with a token made up for this run, which iPXE runs
    and so prints the token.

Debian's iPXE is built without the sha1sum/md5sum commands (DIGEST_CMD), so
the token is what proves the content arrived intact; the size and the HTTP
server's log prove the binary download.
"""

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import harness
from harness import Check, Netns, Wren, log

HOST_IP, GUEST_IP, PORT = "10.77.0.1", "10.77.0.2", 8080
IPXE_TIMEOUT = int(os.environ.get("WREN_IPXE_TIMEOUT", "900"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc")
# On the development machines' software KVM, an interrupt that arrives while
# iPXE runs in protected mode with its virtual (non-zero base) stack segment
# gets its frame pushed as if SS were flat, so the handler's IRET finds no
# valid frame and ends in KVM's instruction emulator, which has no
# protected-mode IRET (QEMU stops there). Wren completes such IRETs itself
# (vmm/cpu/iret_completion.h) and says so once on stderr at log level info,
# which the test logs. No retries: a run either passes or fails.
os.environ.setdefault("WREN_LOG", "info")


class NicPoller:
    """Samples query-rx-filter every second while the VMM runs: iPXE resets
    the NIC when it exits (and may die right after), so the last sample is
    what it left behind."""

    def __init__(self, vm):
        self.vm, self.last, self.done = vm, None, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.wait(1.0):
            try:
                self.last = self.vm.request("query-rx-filter")["return"][0]
            except (OSError, KeyError, IndexError, ValueError, AssertionError):
                pass

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.last


parser = argparse.ArgumentParser()
parser.add_argument("--guest", choices=["seabios-ipxe-modern", "seabios-ipxe-transitional"], required=True,
                    help="guest-images/manifest.json entry")
args = parser.parse_args()
guest = harness.manifest_guest(args.guest)

check = Check()
token = secrets.token_hex(16)
payload = secrets.token_bytes(300_000)

with tempfile.TemporaryDirectory(prefix="wren-fw-") as tmp, Netns(host_ip=f"{HOST_IP}/24") as ns:
    served = Path(tmp) / "www"
    served.mkdir()
    (served / "payload.bin").write_bytes(payload)
    (served / "check.ipxe").write_text(f"#!ipxe\necho WREN-TOKEN {token}\n")
    script = Path(tmp) / "boot.ipxe"
    script.write_text(
        "#!ipxe\n"
        "echo WREN-IPXE-START\n"
        "ifopen net0 || goto fail\n"
        f"set net0/ip {GUEST_IP}\n"
        "set net0/netmask 255.255.255.0\n"
        f"imgfetch --name payload http://{HOST_IP}:{PORT}/payload.bin || goto fail\n"
        "imgstat\n"
        f"chain http://{HOST_IP}:{PORT}/check.ipxe || goto fail\n"
        "ifstat net0\n"
        "echo WREN-IPXE-DONE\n"
        "exit\n"
        ":fail\n"
        "echo WREN-IPXE-FAILED\n")
    http_log = Path(tmp) / "http.log"
    with open(http_log, "w") as http_out:
        server = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-u", "-m", "http.server",
                                   str(PORT), "--bind", HOST_IP, "--directory", str(served)],
                                  stdout=http_out, stderr=subprocess.STDOUT)
    # It prints "Serving HTTP" once it listens. Where guests boot in seconds
    # and Python starts slowly (the KVM host VM), iPXE would otherwise connect
    # first and be refused.
    deadline = time.time() + 120
    while "Serving HTTP" not in http_log.read_text() and server.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    try:
        wren_args = harness.boot_args(guest, script=str(script), tap=ns.tap)
        transport_mode = re.search(r"transport=(\w+)", " ".join(wren_args)).group(1)
        started = time.time()
        with Wren(ns, wren_args, name=args.guest) as vm:
            poller = NicPoller(vm)
            try:
                vm.wait_for(rf"{guest['healthy']}|WREN-IPXE-FAILED", timeout=IPXE_TIMEOUT)
                time.sleep(3)  # one more sample of the NIC after iPXE exits
            finally:
                nic_state = poller.stop()
            log(f"iPXE finished after {time.time() - started:.0f} s (attempts: 1, no retries)")
            console = ANSI.sub("", vm.console())
            check("SeaBIOS ran and printed on the serial console", "SeaBIOS (version" in console)
            check("iPXE started from fw_cfg (kernel + initrd script)", "WREN-IPXE-START" in console)
            nic = re.search(r"net0: (\S+) using (\S+) on (\S+)", console)
            check("iPXE's virtio-net driver opened Wren's NIC",
                  nic is not None and nic.group(2) == "virtio-net" and nic.group(1) == "52:54:00:12:34:56",
                  nic.group(0) if nic else "no 'net0: ... using' line")
            stats = re.search(r"TX:(\d+) TXE:(\d+) RX:(\d+)", console)
            check("iPXE counted frames sent and received on it",
                  stats is not None and int(stats.group(1)) > 0 and int(stats.group(3)) > 0,
                  stats.group(0) if stats else "no ifstat line")
            check("the script did not fail", "WREN-IPXE-FAILED" not in console)
            check(f"healthy console per the manifest (/{guest['healthy']}/)", re.search(guest["healthy"], console) is not None)
            sizes = [int(m.group(1)) for m in re.finditer(r"payload(?:\.bin)? : (\d+) bytes", console)]
            check("imgstat reports the payload's exact size", sizes == [len(payload)], f"sizes {sizes}")
            check("the fetched script printed this run's token", f"WREN-TOKEN {token}" in console)
            wren_facts = (nic_state or {}).get("wren", {})  # Wren's extra member of RxFilterInfo
            transport = wren_facts.get("transport", {})
            counters = wren_facts.get("counters", {})
            log(f"last NIC sample: transport {transport}, counters {counters}")
            check("NIC in the requested transport mode", transport.get("mode") == transport_mode, str(transport))
            check("frames flowed both ways through Wren's NIC",
                  counters.get("rx_packets", 0) > 0 and counters.get("tx_packets", 0) > 0, str(counters))
            stderr = vm.stderr_path.read_text()
            check("no VMM error report", "stopped:" not in stderr, stderr[-2000:])
            iret_lines = [line for line in stderr.splitlines() if "IRET" in line]
            log("IRETs completed by the VMM:\n" + "\n".join(iret_lines) if iret_lines
                else "no IRET needed completing in the VMM")
    finally:
        server.kill()
        server.wait()
    requests = http_log.read_text()
    log("HTTP server log:\n" + requests)
    for name in ("payload.bin", "check.ipxe"):
        check(f"HTTP server sent {name} to the guest",
              re.search(rf"^{re.escape(GUEST_IP)} .*\"GET /{re.escape(name)} HTTP/1\.[01]\" 200", requests, re.M)
              is not None)
check.finish()
