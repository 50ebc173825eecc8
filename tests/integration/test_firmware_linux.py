"""Issue 7, firmware boot of Linux: the test kernel and initramfs reach /init
through Debian's SeaBIOS, the way QEMU's -bios/-kernel boots them: SeaBIOS
reads the kernel, initrd and command line from fw_cfg with QEMU's
linuxboot_dma option ROM and enters the kernel's real-mode setup code; the
kernel then sees the firmware's memory map and the ACPI tables SeaBIOS
placed with Wren's table-loader commands. The guest powers off through ACPI
and `wren run` exits 0.

Slow on the software KVM backend (the real-mode setup code is emulated too):
allow 15 minutes or more.
"""

import re

import harness
from harness import Check, Wren, log

guest = harness.manifest_guest("linux-firmware")
check = Check()
cmdline = f"{harness.compat_cmdline()} wren_test.devwait=0 wren_test.steps=waitinit,sleep=1000,poweroff"

with Wren(None, harness.boot_args(guest, cmdline=cmdline), name="firmware-linux") as vm:
    vm.wait_for(guest["healthy"])
    console = vm.console()
    check("SeaBIOS ran first", "SeaBIOS (version" in console)
    check("Linux got the command line through fw_cfg", cmdline in console)
    # The memory map comes from SeaBIOS's INT 15h E820, with its own reservations.
    check("memory map from the firmware",
          re.search(r"BIOS-e820: \[mem 0x00000000000f0000-0x00000000000fffff\] reserved", console) is not None)
    check("PCI ECAM window reserved in that map",
          "BIOS-e820: [mem 0x00000000e0000000-0x00000000efffffff] reserved" in console)
    # SeaBIOS put the RSDP in the F segment (the table loader's FSEG zone),
    # not where the direct-boot path writes it (0xE0000).
    rsdp = re.search(r"ACPI: RSDP 0x([0-9A-F]+)", console)
    check("ACPI RSDP placed by the firmware in the F segment",
          rsdp is not None and 0xF0000 <= int(rsdp.group(1), 16) < 0x100000, rsdp.group(0) if rsdp else "none")
    for table in ("FACP", "DSDT", "FACS", "APIC", "MCFG"):
        check(f"ACPI {table} found", f"ACPI: {table} 0x" in console)
    check("no ACPI checksum complaints", "Incorrect checksum" not in console)
    check("initramfs unpacked", "Trying to unpack rootfs" in console or "Unpacking initramfs" in console
          or "Freeing initrd memory" in console)
    status = vm.wait_exit(timeout=900)
    log(f"wren exited with {status}")
    check("wren exits 0 on guest power-off", status == 0, f"status {status}")
    check("no VMM error report", "stopped:" not in vm.stderr_path.read_text())
check.finish()
