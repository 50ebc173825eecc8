"""Issue 2: the test guest boots on Wren with two vCPUs to /init, both CPUs
come up, and `wren run` exits with status 0 when the guest powers off."""

import harness
from harness import Check, Wren, log

guest = harness.manifest_guest("linux-direct")
check = Check()
# The test module waits for /init to start, then powers the machine off.
cmdline = f"{harness.compat_cmdline()} wren_test.devwait=0 wren_test.steps=waitinit,sleep=1000,poweroff"

with Wren(None, harness.boot_args(guest, cmdline=cmdline) + ["--cpus", "2"], name="boot-smp") as vm:
    vm.wait_for(guest["healthy"])
    console = vm.console()
    check("both CPUs came up", "Brought up 1 node, 2 CPUs" in console)
    check("ACPI tables found", "ACPI: RSDP" in console and "ACPI: MCFG" in console)
    check("serial console is a 16550A", "16550A" in console)
    status = vm.wait_exit(timeout=600)
    log(f"wren exited with {status}")
    check("wren exits 0 on guest power-off", status == 0, f"status {status}")
    check("guest asked for power-off", "WREN-TEST: step 3 poweroff" in vm.console())
    check("no VMM error report", "stopped:" not in vm.stderr_path.read_text())
check.finish()
