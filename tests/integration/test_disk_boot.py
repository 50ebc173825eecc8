"""Issue 14, boot from disk: SeaBIOS's virtio-blk driver boots GRUB (Debian's,
made with grub-mkrescue) from the first disk; GRUB reads the test kernel from
that disk through the BIOS disk services and starts it with the command line
this test wrote into the image; the kernel mounts its root, ext4, from the
second virtio-blk disk (no initrd) and runs /init from it. The guest then
powers off through ACPI and `wren run` exits 0.

usage: test_disk_boot.py --transport modern|transitional

Both disks use the given transport. With `transitional` the kernel drives
them through the legacy I/O BAR (virtio_pci.force_legacy=1); SeaBIOS takes
the modern capabilities whenever a device has them.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

import harness
from harness import Check, Wren, log

GUESTS = {"modern": "disk-boot-modern", "transitional": "disk-boot-transitional"}
parser = argparse.ArgumentParser()
parser.add_argument("--transport", choices=GUESTS, required=True)
args = parser.parse_args()

guest = harness.manifest_guest(GUESTS[args.transport])
check = Check()
workdir = harness.default_workdir()
workdir.mkdir(parents=True, exist_ok=True)

# The first --disk is vda, the second vdb: the root. Without an initrd the
# kernel runs init= from the mounted root.
cmdline = (f"{harness.compat_cmdline()} root=/dev/vdb rootfstype=ext4 init=/init "
           "wren_test.devwait=0 wren_test.steps=waitinit,sleep=1000,poweroff")
if args.transport == "transitional":
    cmdline += " virtio_pci.force_legacy=1"

# The cached images stay untouched: the guest boots copies, the boot disk's
# with this test's command line.
disks = {}
for name in ("boot_disk", "root_disk"):
    disks[name] = workdir / f"{name}.img"
    shutil.copyfile(harness.artifact(name), disks[name])
subprocess.run([sys.executable, str(harness.GUEST_IMAGES / "disk-boot" / "set-cmdline.py"),
                str(disks["boot_disk"]), cmdline], check=True)
kernel_bytes = os.path.getsize(harness.guest_images()[0])

# SeaBIOS's own log (debug port 0x402) reaches Wren's stderr at debug level:
# it names the devices its virtio-blk driver took.
os.environ["WREN_LOG"] = "debug"

ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9]|[A-Za-z])")

with Wren(None, harness.boot_args(guest, **disks), name=f"disk-boot-{args.transport}") as vm:
    def plain():
        """The console without the escape sequences of SeaBIOS's serial console."""
        return ANSI.sub("", vm.console())

    # In boot order; each must follow the one before.
    at = 0
    for step, pattern in [
            ("SeaBIOS ran", r"SeaBIOS \(version"),
            ("SeaBIOS booted the first hard disk", r"Booting from Hard Disk"),
            # GRUB's own "Welcome to GRUB!" goes through SeaBIOS's text-mode
            # translation and was missing once in a boot that went on fine;
            # its grub.cfg, read from the disk, prints on COM1 directly.
            ("GRUB ran grub.cfg from the disk", r"WREN-GRUB: loading /boot/bzImage from the boot disk"),
            ("GRUB started the kernel", r"WREN-GRUB: starting the kernel"),
            ("the kernel's banner", r"Linux version \d"),
            ("the root disk appeared as vdb", r"virtio_blk virtio\d+: \[vdb\]"),
            ("ext4 root mounted from the virtio disk", r"EXT4-fs \(vdb\): mounted filesystem"),
            ("the kernel ran /init from that root", r"Run /init as init process")]:
        m = vm.wait_for(pattern, start=at, text=plain)
        check(step, True)
        at = m.end()
    check("manifest's healthy pattern", re.search(guest["healthy"], plain()) is not None)

    firmware_log = vm.stderr_text()
    check("SeaBIOS's virtio-blk driver found both disks",
          len(re.findall(r"firmware: found virtio-blk at ", firmware_log)) == 2,
          "\n".join(line for line in firmware_log.splitlines() if "virtio" in line))

    disks_report = vm.request("query-disks")["return"]
    log(f"query-disks: {disks_report}")
    by_path = {d["path"]: d for d in disks_report}
    boot, root = by_path[str(disks["boot_disk"])], by_path[str(disks["root_disk"])]
    check("the kernel came through the boot disk", boot["counters"]["bytes_read"] >= kernel_bytes,
          f"{boot['counters']['bytes_read']} bytes read, kernel {kernel_bytes}")
    check("the root disk was read", root["counters"]["reads"] > 0)
    check("no disk errors", all(d["counters"]["errors"] == 0 for d in disks_report), str(disks_report))

    vm.wait_for(r"WREN-TEST: powering off", start=at, text=plain)
    console = plain()
    check("GRUB passed this test's command line", f"Command line: BOOT_IMAGE=/boot/bzImage {cmdline}" in console)
    check("no initramfs", "Unpacking initramfs" not in console and "Trying to unpack rootfs" not in console)
    check("root mounted from vdb", "VFS: Mounted root (ext4 filesystem)" in console)
    check("/init did not fail", "Kernel panic" not in console and "Requested init" not in console)
    status = vm.wait_exit(timeout=300)
    log(f"wren exited with {status}")
    check("wren exits 0 on guest power-off", status == 0, f"status {status}")
    check("no VMM error report", "stopped:" not in vm.stderr_text())
check.finish()
