"""Issue 16: a third-party QMP client drives Wren. DigitalOcean's go-qemu
(Debian's golang-github-digitalocean-go-qemu-dev, written for QEMU) is built
from tests/integration/qmp_client by CMake and, against one booted guest: connects
and negotiates, runs query-status, query-commands, query-version and
query-rx-filter through go-qemu's generated QAPI types, stops and continues
the guest (STOP and RESUME events), and powers it off with system_powerdown.
The guest has no userspace, so the test module (step "powerbutton") acts on
the power button's KEY_POWER as logind would and calls kernel_power_off(). Wren must exit 0
after the guest's ACPI shutdown. Before that, query-stats and
query-stats-schemas read the running vCPU's KVM statistics, as a QEMU
client would (the bench/net.sh exit comparison relies on them)."""

import argparse
import subprocess
from pathlib import Path

import harness
from guest_net import GUEST_MAC, IP_CONFIG
from harness import Check, Netns, Wren, log

parser = argparse.ArgumentParser()
parser.add_argument("--client", required=True, help="the go-qemu client, built by CMake (tests/integration/qmp_client)")
client = Path(parser.parse_args().client)
if not client.is_file():
    raise SystemExit(f"{client} is missing: build the release tree (bash scripts/build.sh)")

kernel, initrd = harness.guest_images()
check = Check()
cmdline = " ".join([harness.compat_cmdline(), IP_CONFIG, "wren_test.steps=powerbutton"])

with Netns() as ns, Wren(ns, ["--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline, "--cpus", "1",
                              "--memory", "256M", "--net", f"tap=tap0,mac={GUEST_MAC}"], name="qmp") as vm:
    vm.wait_for(r"WREN-TEST: ready mac=" + GUEST_MAC)
    # Linux's ACPI button driver binds the FADT's fixed power button and
    # reports KEY_POWER, on which the module acts as userspace would.
    armed = vm.wait_for(r"WREN-TEST: power button (armed \(.*\)|not armed)")
    check("the test module acts on the power button", armed.group(1).startswith("armed"), armed.group(0))
    stats = [vm.request("query-stats", target="vcpu")["return"] for _ in range(2)]
    check("query-stats: one vCPU, as QEMU names it",
          [r.get("qom-path") for r in stats[0]] == ["/machine/unattached/device[0]"], stats[0])
    exits = [{s["name"]: s["value"] for s in r[0]["stats"]}.get("exits", 0) for r in stats]
    check("query-stats: the running vCPU's exits count up", 0 < exits[0] < exits[1], exits)
    vm_stats = vm.request("query-stats", target="vm")["return"]
    check("query-stats: the VM's stats have no qom-path", len(vm_stats) == 1 and "qom-path" not in vm_stats[0],
          vm_stats)
    schemas = {s["target"]: s["stats"] for s in vm.request("query-stats-schemas")["return"]}
    exits_schema = [v for v in schemas.get("vcpu", []) if v["name"] == "exits"]
    check("query-stats-schemas: vcpu exits is cumulative", exits_schema and exits_schema[0]["type"] == "cumulative",
          exits_schema)
    run = subprocess.run([str(client), "-socket", str(vm.api), "-mac", GUEST_MAC], capture_output=True, text=True,
                         timeout=harness.BOOT_TIMEOUT + 300)
    log(f"go-qemu client: exit {run.returncode}\n{run.stdout}{run.stderr}")
    for line in run.stdout.splitlines():
        if line.startswith("QMP-CLIENT: PASS ") or line.startswith("QMP-CLIENT: FAIL "):
            check("go-qemu: " + line.split(" ", 2)[2], line.startswith("QMP-CLIENT: PASS "))
    check("go-qemu client exits 0", run.returncode == 0, run.stderr[-2000:])
    code = vm.wait_exit(timeout=300)
    check("wren exits 0 after the guest's ACPI shutdown", code == 0, f"status {code}")
    console = vm.console()
    check("the guest saw the power button", "WREN-TEST: power button pressed" in console)
    check("the guest powered itself off", "WREN-TEST: powering off" in console)
check.finish()
