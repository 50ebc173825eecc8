"""Boots the test guest with Wren and QEMU side by side (one of each at a
time, concurrently), several runs each, and prints median time to
`Run /init`, the VMMs' memory overhead, and the Wren/QEMU ratios.

With --mode firmware: the same, but both VMMs start Debian's SeaBIOS, which
loads the kernel, initramfs and command line from fw_cfg (QEMU's -bios with
-kernel; Wren's --firmware with --kernel).

With --mode multiboot: boots the multiboot test kernel
(guest-images/multiboot-test) with two modules through each VMM's
--kernel/-kernel, one VMM at a time, and prints the median wall time until
the kernel exits through the isa-debug-exit port, and the ratio."""

import argparse
import concurrent.futures as cf
import os
import sys
import tempfile
from pathlib import Path

import vmm_probe
from vmm_probe import harness

parser = argparse.ArgumentParser()
parser.add_argument("--mode", choices=["linux", "firmware", "multiboot"], default="linux")
parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
parser.add_argument("--memory-mb", type=int, default=256)
args = parser.parse_args()


def bench_multiboot(runs, memory_mb, tmp):
    kernel, _ = harness.multiboot_test_kernels()
    modules = []
    for i, text in enumerate(["first module\n", "second module\n"]):
        path = Path(tmp) / f"module-{i}"
        path.write_text(text)
        modules.append(f"{path} index={i}")
    code = 21
    expected = (code << 1) | 1
    times = {"wren": [], "qemu": []}
    for run in range(runs):
        for vmm, build in [("wren", vmm_probe.wren_cmd), ("qemu", vmm_probe.qemu_cmd)]:
            # One at a time: the boot is short and timing-sensitive.
            serial = Path(tmp) / f"{vmm}-{run}.serial"
            cmd = build(kernel, ",".join(modules), f"exit={code}", memory_mb, serial, test_exit=True)
            with harness.Netns() as ns:
                secs, status = vmm_probe.run_to_exit(ns, cmd)
            console = serial.read_text(errors="replace") if serial.exists() else ""
            if status != expected or "modules: 2" not in console:
                raise SystemExit(f"{vmm}: exit status {status} (want {expected}); console:\n{console[-2000:]}")
            times[vmm].append(secs)
            print(f"run {run + 1}: {vmm:5s} exit {status} after {secs:6.3f} s", flush=True)
    w, q = vmm_probe.median(times["wren"]), vmm_probe.median(times["qemu"])
    print(f"median wall time to test-exit (multiboot): wren {w:.3f} s, qemu {q:.3f} s, "
          f"ratio wren/qemu {w / q:.2f} (goal < 1)")


if args.mode == "multiboot":
    bench_multiboot(args.runs, args.memory_mb, tempfile.mkdtemp(prefix="wren-bench-"))
    sys.exit(0)

kernel, initrd = harness.guest_images()
cmdline = harness.compat_cmdline()
firmware = harness.artifact("seabios") if args.mode == "firmware" else None
results = {"wren": [], "qemu": []}
tmp = tempfile.mkdtemp(prefix="wren-bench-")

def one(vmm, run):
    with harness.Netns() as ns:
        serial = f"{tmp}/{vmm}-{run}.serial"
        build = vmm_probe.wren_cmd if vmm == "wren" else vmm_probe.qemu_cmd
        secs, kib, proc = vmm_probe.boot_until(ns, build(kernel, initrd, cmdline, args.memory_mb, serial,
                                                     firmware=firmware),
                                               serial, r"Run /init", args.memory_mb << 20)
        proc.kill()
        proc.wait()
        return vmm, secs, kib

for run in range(args.runs):
    with cf.ThreadPoolExecutor(2) as pool:
        for vmm, secs, kib in pool.map(lambda v: one(v, run), ["wren", "qemu"]):
            results[vmm].append((secs, kib))
            print(f"run {run + 1}: {vmm:5s} Run /init after {secs:7.1f} s, overhead {kib / 1024:6.1f} MiB", flush=True)

w_t = vmm_probe.median([s for s, _ in results["wren"]])
q_t = vmm_probe.median([s for s, _ in results["qemu"]])
w_m = vmm_probe.median([k for _, k in results["wren"]])
q_m = vmm_probe.median([k for _, k in results["qemu"]])
path = " through SeaBIOS" if firmware else ""
print(f"median time to Run /init{path}: wren {w_t:.1f} s, qemu {q_t:.1f} s, ratio wren/qemu {w_t / q_t:.2f} (goal < 1)")
print(f"median memory overhead:   wren {w_m / 1024:.1f} MiB, qemu {q_m / 1024:.1f} MiB, "
      f"ratio wren/qemu {w_m / q_m:.3f} (goal < 0.1)")
