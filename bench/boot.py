"""Boots the test guest with Wren and QEMU side by side (one of each at a
time, concurrently), several runs each, and prints median time to
`Run /init`, the VMMs' memory overhead, and the Wren/QEMU ratios."""

import argparse
import concurrent.futures as cf
import os
import tempfile

import vmm_probe
from vmm_probe import harness

parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
parser.add_argument("--memory-mb", type=int, default=256)
args = parser.parse_args()

kernel, initrd = harness.guest_images()
cmdline = harness.compat_cmdline()
results = {"wren": [], "qemu": []}
tmp = tempfile.mkdtemp(prefix="wren-bench-")

def one(vmm, run):
    with harness.Netns() as ns:
        serial = f"{tmp}/{vmm}-{run}.serial"
        build = vmm_probe.wren_cmd if vmm == "wren" else vmm_probe.qemu_cmd
        secs, kib, proc = vmm_probe.boot_until(ns, build(kernel, initrd, cmdline, args.memory_mb, serial),
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
print(f"median time to Run /init: wren {w_t:.1f} s, qemu {q_t:.1f} s, ratio wren/qemu {w_t / q_t:.2f} (goal < 1)")
print(f"median memory overhead:   wren {w_m / 1024:.1f} MiB, qemu {q_m / 1024:.1f} MiB, "
      f"ratio wren/qemu {w_m / q_m:.3f} (goal < 0.1)")
