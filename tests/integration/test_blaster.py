"""Issue 15, the packet blaster: the multiboot test kernel with the word
`blaster` (guest-images/multiboot-test/blaster.c) runs its TX and RX loops
once on Wren's modern NIC with small loop counts, driven by the same code as
bench/pps.sh (bench/pps.py's drive, with bench/pps/pump.cc counting and
sending frames on the TAP in this test's namespace). Checks, so that the
guest mode and the benchmark cannot rot:

  - every loop ran and reported its full frame count, bytes and time;
  - every TX frame the guest counted arrived on the TAP (the host sink's
    count equals the guest's, per frame size), and none more;
  - every RX frame the guest counted was sent by the host;
  - Wren's query-counters agree (tx_packets, rx_packets);
  - the VMM exits through the test-exit port with (N << 1) | 1.
"""

import argparse
import subprocess
import sys

import harness
from harness import Check, Netns, Wren, log

sys.path.insert(0, str(harness.REPO / "bench"))
import pps  # noqa: E402

counts = pps.parse_args(["--tx64", "3000", "--tx1500", "2000", "--tso", "200", "--rx64", "3000", "--rx1500",
                         "2000", "--timeout", "300"])
check = Check()

with Netns(ipv6=False) as ns:
    pump = pps.Pump(ns)
    guest = harness.manifest_guest("multiboot-blaster")
    args = harness.boot_args(guest, cmdline=pps.guest_cmdline(counts), tap=ns.tap, test_exit="iobase=0xf4")
    try:
        with Wren(ns, args, name="blaster") as vm:
            nic = {}

            def read_counters():
                nic.update(next(iter(vm.request("query-counters")["return"].values())))

            try:
                results = pps.drive("wren", vm.proc, vm.serial, pump, counts, before_end=read_counters)
            except (RuntimeError, TimeoutError) as e:
                check("the blaster runs every loop", False, str(e))
                results = {}
            for direction, size, key in pps.LOOPS:
                r = results.get(key)
                want = getattr(counts, key)
                check(f"{key}: the guest reports {want} frames of {size} bytes",
                      r is not None and r["frames"] == want and r["bytes"] == want * size and r["seconds"] > 0, r)
                if r is None:
                    continue
                if direction == "tx":
                    check(f"{key}: the host sink counted every frame the guest sent", r["sink"] == r["frames"],
                          f"guest {r['frames']}, sink {r['sink']}")
                else:
                    check(f"{key}: the host sent at least what the guest received", r["sent"] >= r["frames"],
                          f"guest {r['frames']}, host sent {r['sent']}")
            if results:
                tx = sum(results[k]["frames"] for d, _, k in pps.LOOPS if k in results and d == "tx")
                rx = sum(results[k]["frames"] for d, _, k in pps.LOOPS if k in results and d == "rx")
                log(f"query-counters: {nic}")
                check("query-counters: tx_packets counts every frame the guest sent", nic.get("tx_packets") == tx,
                      f"tx_packets {nic.get('tx_packets')}, guest {tx}")
                check("query-counters: rx_packets is at least what the guest counted",
                      nic.get("rx_packets", 0) >= rx, f"rx_packets {nic.get('rx_packets')}, guest {rx}")
            try:
                status = vm.wait_exit(timeout=120)
            except subprocess.TimeoutExpired:
                status = None
            expected = (pps.EXIT_CODE << 1) | 1
            check(f"wren exits through the test-exit port with {expected}", status == expected, f"status {status}")
            stderr = vm.stderr_text()
            check("no VMM error report", "stopped:" not in stderr, stderr[-800:])
            if check.failed:
                vm.dump()
    finally:
        pump.close()

check.finish()
