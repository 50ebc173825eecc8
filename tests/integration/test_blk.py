"""Issue 14: virtio-blk driven by the real Linux virtio_blk driver and ext4,
from the guest kernel (guest-images/test-module/wren_disk.c), one boot per
scenario:

  ext4      mount the data disk, write files with a known pattern, fsync,
            read them back through the device, punch a hole (ext4 discards
            it), then unmount and power off. The host checks the image with
            e2fsck -fn, reads the files back with debugfs and finds the
            discarded blocks punched out of the image. A read-only second
            disk refuses a raw write and stays unchanged; a second VMM on the
            image in use, and a missing image, are refused at start.
  crash     SIGKILL the VMM right after the guest reports that fsync
            returned; the host then finds the file in the image.
  snapshot  the guest keeps writing fsynced records; it is snapshotted
            (resume=false), the VMM killed and the file restored into a new
            process on the same image; the guest writes on to the end.
  migrate   the same, with a live migration to a second VMM on the same
            image (shared storage) instead of the snapshot.

Afterwards every record the guest reported durable is in the image."""

import argparse
import os
import re
import signal
import subprocess
import zlib
from pathlib import Path

import harness
from harness import Check, Netns, Wren, log

IMAGE_MIB = 64
RECORD_KIB, RECORDS, RECORD_SEED, SWITCH_AFTER = 64, 24, 5, 4
MIGRATION_PORT = 4444
# /init spins in user mode; parked, it leaves the vCPU to the disk steps.
PARK_INIT = "wren_test.steps=waitinit,parkinit"


def pattern(seed, length, offset=0):
    """wren_disk.c's pattern: word k (byte offset / 4) is (SEED*2654435761) ^ (k*2246822519) mod 2^32."""
    base = (seed * 2654435761) & 0xffffffff
    first = offset // 4
    words = [(base ^ ((k * 2246822519) & 0xffffffff)) for k in range(first, first + length // 4)]
    return b"".join(w.to_bytes(4, "little") for w in words)


def crc(data):
    """wren_disk.c's checksum: zlib's CRC-32, as 8 hex digits."""
    return f"{zlib.crc32(data):08x}"


def make_ext4(path):
    with open(path, "wb") as f:
        f.truncate(IMAGE_MIB << 20)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", str(path)], check=True)
    log(f"made an ext4 file system on {path}")


def check_clean(check, image):
    """e2fsck -fn finds nothing, and the journal holds nothing to replay (-n
    would check the file system without what is still in the journal)."""
    fsck = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
    check("e2fsck -fn finds the file system clean", fsck.returncode == 0, fsck.stdout + fsck.stderr)
    header = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True, text=True).stdout
    check("the file system was unmounted cleanly (no journal to replay)",
          "needs_recovery" not in header and re.search(r"Filesystem state:\s+clean", header), header)


def debugfs_dump(image, name, out):
    subprocess.run(["debugfs", "-R", f"dump /{name} {out}", str(image)], check=True, capture_output=True)
    return out.read_bytes() if out.exists() else b""


def disk_line(vm, pattern_, timeout=600):
    return vm.wait_for(r"WREN-DISK: " + pattern_, timeout=timeout)


def machine(*disks):
    return ["--cpus", "1", "--memory", "256M", *[a for d in disks for a in ("--disk", d)]]


def boot_args(steps, disk, *more_disks):
    """The manifest's linux-disk guest running `steps`, with `disk` first and then `more_disks`."""
    cmdline = " ".join([harness.compat_cmdline(), "wren_test.devwait=0", PARK_INIT,
                        "wren_disk.steps=" + ",".join(steps)])
    args = harness.boot_args(harness.manifest_guest("linux-disk"), cmdline=cmdline, disk=disk)
    return args + [a for d in more_disks for a in ("--disk", d)]


def check_records(check, image, consoles, workdir):
    """Every record some console reported durable is in the image, with its checksum."""
    durable = {}
    for text in consoles:
        for i, h in re.findall(r"WREN-DISK: record log (\d+) durable crc=([0-9a-f]{8})", text):
            durable[int(i)] = h
    check("the guest wrote every record", sorted(durable) == list(range(RECORDS)), sorted(durable))
    record = RECORD_KIB * 1024
    wrong_sum = [i for i, h in durable.items() if h != crc(pattern(RECORD_SEED, record, i * record))]
    check("every reported checksum matches the pattern", not wrong_sum, wrong_sum)
    check_clean(check, image)
    data = debugfs_dump(image, "log", workdir / "log.out")
    missing = [i for i in durable if data[i * record:(i + 1) * record] != pattern(RECORD_SEED, record, i * record)]
    listing = subprocess.run(["debugfs", "-R", "ls -l /", str(image)], capture_output=True, text=True).stdout
    check("every durable record is in the image", not missing and len(data) >= len(durable) * record,
          f"missing {missing}, {len(data)} bytes; the image's root folder:\n{listing}")


def scenario_ext4(check, workdir):
    kernel = harness.artifact("kernel")  # for the VMMs that must be refused
    data, ro = workdir / "data.img", workdir / "ro.img"
    make_ext4(data)
    ro_bytes = os.urandom(1 << 20)
    ro.write_bytes(ro_bytes)

    missing = subprocess.run([harness.wren_binary(), "run", "--kernel", kernel, "--disk",
                              f"path={workdir / 'absent.img'}"], capture_output=True, text=True, timeout=60)
    check("a missing image is refused with its name", missing.returncode != 0 and "absent.img" in missing.stderr,
          missing.stderr)

    # Expectations first: Python is slow in the KVM host VM, and the guest does not wait.
    alpha_bytes = pattern(1, 1 << 20)
    alpha = crc(alpha_bytes)
    beta = bytearray(pattern(2, 512 << 10))
    beta[128 << 10:384 << 10] = bytes(256 << 10)
    beta_crc, ro_crc = crc(bytes(beta)), crc(ro_bytes[:64 << 10])
    steps = ["mount=vda", "write=alpha:1024:1", "read=alpha", "write=beta:512:2", "punch=beta:128:256",
             "read=beta", "rawwrite=vdb:0", "rawread=vdb:0:64", "umount", "sleep=15000", "poweroff"]
    with Wren(None, boot_args(steps, f"path={data}", f"path={ro},readonly=on"),
              workdir=workdir) as vm:
        disk_line(vm, r"step 1 mount=vda")
        locked = subprocess.run([harness.wren_binary(), "run", "--kernel", kernel, "--disk", f"path={data}"],
                                capture_output=True, text=True, timeout=60)
        check("an image in use by another VMM is refused", locked.returncode != 0 and "lock" in locked.stderr,
              locked.stderr)
        check("mount succeeds", disk_line(vm, r"mount vda rc=(-?\d+)").group(1) == "0")
        m = disk_line(vm, r"file alpha wrote bytes=(\d+) crc=(\w+) fsync rc=(-?\d+)")
        check("alpha written and fsynced", m.groups() == (str(1 << 20), alpha, "0"), m.groups())
        m = disk_line(vm, r"file alpha read bytes=(\d+) crc=(\w+)")
        check("alpha reads back through the device", m.groups() == (str(1 << 20), alpha), m.groups())

        disk_line(vm, r"punch beta done rc=0")
        extents = [(int(b), int(c), int(s)) for b, c, s in
                   re.findall(r"punch beta extent block=(\d+) count=(\d+) blocksize=(\d+)", vm.console())]
        check("the punched range had disk blocks", sum(c for _, c, _ in extents) == 64, extents)
        m = disk_line(vm, r"file beta read bytes=(\d+) crc=(\w+)")
        check("beta reads back with its hole", m.groups() == (str(512 << 10), beta_crc), m.groups())

        m = disk_line(vm, r"raw vdb write sector=0 rc=(-?\d+)")
        check("the read-only disk refuses a write (EIO in the guest)", m.group(1) == "-5", m.group(0))
        m = disk_line(vm, r"raw vdb read sector=0 bytes=(\d+) crc=(\w+) rc=0")
        check("the read-only disk reads its image", m.groups() == (str(64 << 10), ro_crc),
              m.groups())
        check("unmounted", disk_line(vm, r"umount rc=(-?\d+)").group(1) == "0")

        disks = {d["name"]: d for d in vm.request("query-disks")["return"]}
        log(f"query-disks: {disks}")
        c0, c1 = disks["disk0"]["counters"], disks["disk1"]["counters"]
        check("disk0 counted writes, flushes and discards",
              c0["writes"] > 0 and c0["flushes"] > 0 and c0["discards"] > 0 and c0["errors"] == 0, c0)
        check("disk1 counted the refused write as an error", c1["errors"] >= 1 and c1["bytes_written"] == 0, c1)
        check("nothing in flight after unmount", c0["in_flight"] == 0 and c1["in_flight"] == 0)
        code = vm.wait_exit(timeout=120)
        check("wren exits 0 after the guest powers off", code == 0, f"status {code}")

    check_clean(check, data)
    check("debugfs reads alpha back from the image",
          debugfs_dump(data, "alpha", workdir / "alpha.out") == alpha_bytes)
    check("debugfs reads beta back, hole included", debugfs_dump(data, "beta", workdir / "beta.out") == bytes(beta))
    with open(data, "rb") as f:
        holes = []
        for block, count, size in extents:
            try:
                next_data = os.lseek(f.fileno(), block * size, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole follows
                next_data = os.path.getsize(data)
            holes.append(next_data >= (block + count) * size)
    check("the discarded blocks are holes in the image", extents and all(holes), list(zip(extents, holes)))
    check("the read-only image is unchanged", ro.read_bytes() == ro_bytes)


def scenario_crash(check, workdir):
    data = workdir / "data.img"
    make_ext4(data)
    steps = ["mount=vda", "write=gamma:2048:3", "sleep=600000"]
    with Wren(None, boot_args(steps, f"path={data}"), workdir=workdir) as vm:
        m = disk_line(vm, r"file gamma wrote bytes=(\d+) crc=(\w+) fsync rc=(-?\d+)")
        vm.proc.send_signal(signal.SIGKILL)  # at once: no chance to write anything more
        vm.proc.wait()
        check("the guest's fsync returned", m.group(3) == "0", m.group(0))
    # The journal holds the metadata: replay it, as the guest's next mount would.
    fsck = subprocess.run(["e2fsck", "-fy", str(data)], capture_output=True, text=True)
    check("e2fsck -fy recovers the file system", fsck.returncode in (0, 1), fsck.stdout + fsck.stderr)
    check("the fsynced file is in the image after SIGKILL",
          debugfs_dump(data, "gamma", workdir / "gamma.out") == pattern(3, 2 << 20))


def writer_steps():
    return ["mount=vda", f"writeloop=log:{RECORD_SEED}:{RECORDS}:{RECORD_KIB}:300", "umount", "poweroff"]


def scenario_snapshot(check, workdir):
    data, snap = workdir / "data.img", workdir / "guest.snap"
    make_ext4(data)
    disk = f"path={data}"
    with Wren(None, boot_args(writer_steps(), disk), name="source",
              workdir=workdir) as vm:
        disk_line(vm, rf"record log {SWITCH_AFTER} durable")
        reply = vm.request("snapshot", path=str(snap), resume=False)
        check("snapshot taken while the guest writes", "return" in reply, reply)
        vm.proc.kill()
        vm.proc.wait()
        source_console = vm.console()
    with Wren(None, ["--restore", str(snap), *machine(disk)], name="restored", workdir=workdir) as vm:
        vm.wait_api()
        disk_line(vm, r"umount rc=0")
        code = vm.wait_exit(timeout=120)
        check("the restored guest powers off, wren exits 0", code == 0, f"status {code}")
        restored_console = vm.console()
    check("the restored guest went on writing",
          f"record log {RECORDS - 1} durable" in restored_console, restored_console[-2000:])
    check_records(check, data, [source_console, restored_console], workdir)


def scenario_migrate(check, workdir):
    data = workdir / "data.img"
    make_ext4(data)
    disk = f"path={data}"
    uri = f"tcp:127.0.0.1:{MIGRATION_PORT}"
    with Netns() as ns:
        with Wren(ns, boot_args(writer_steps(), disk), name="source",
                  workdir=workdir) as src:
            disk_line(src, rf"record log {SWITCH_AFTER} durable")
            with Wren(ns, ["--incoming", uri, *machine(disk)], name="dest", workdir=workdir) as dst:
                dst.wait_for(r"waiting for a migration on", timeout=120, text=dst.stderr_text)
                reply = src.request("migrate", uri=uri)
                check("migration started while the guest writes", "return" in reply, reply)
                result = src.wait_migration()
                code = src.wait_exit(timeout=120)
                # A completed source exits: its last query-migrate may predate completion.
                completed = re.search(r"migration to \S+ completed", src.stderr_text())
                failed = (result or {}).get("status") in ("failed", "cancelled")
                check("migration completed", completed and not failed, f"{result}\n{src.stderr_text()[-2000:]}")
                check("the source exits 0", code == 0, f"status {code}")
                disk_line(dst, r"umount rc=0")
                code = dst.wait_exit(timeout=120)
                check("the guest powers off on the destination, wren exits 0", code == 0, f"status {code}")
                check("the destination's guest went on writing",
                      f"record log {RECORDS - 1} durable" in dst.console(), dst.console()[-2000:])
                check_records(check, data, [src.console(), dst.console()], workdir)


SCENARIOS = {"ext4": scenario_ext4, "crash": scenario_crash, "snapshot": scenario_snapshot,
             "migrate": scenario_migrate}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
opts = parser.parse_args()
check = Check()
workdir = harness.default_workdir()
workdir.mkdir(parents=True, exist_ok=True)
SCENARIOS[opts.scenario](check, workdir)
check.finish()
