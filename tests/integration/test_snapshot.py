"""Issues 4 and 5: stop/cont/quit on the control socket, and a running
guest's trip through a snapshot file. One boot: the real virtio_net driver
installs its filters and the test module switches promiscuity and adds
addresses; the test pauses and resumes the guest, snapshots it, kills the VMM
and restores the file into a new process on the same TAP. The restored guest
must show the identical receive filter, answer pings, keep receiving frames,
and its kernel must not notice the gap (no soft lockup, no clocksource or
RCU complaints)."""

import json
import subprocess

import harness
from guest_net import (GUEST_IP, GUEST_MAC, IP_CONFIG, advance, filter_state, listen_for_gratuitous_arp, probes,
                       wait_step)
from harness import Check, EventWatcher, Netns, Wren, log

EXTRA_UC = "02:11:22:33:44:55"
EXTRA_MC = "01:00:5e:01:02:03"
STEPS = [
    "promisc=1", f"mc+={EXTRA_MC}", f"uc+={EXTRA_UC}", "wait",  # 1-4: set before the snapshot
    "promisc=0", "wait",                                         # 5-6: after the restore
    "poweroff",                                                  # 7
]
# Words in a guest console that mean the kernel noticed time jump or a CPU stall.
KERNEL_COMPLAINTS = ["soft lockup", "clocksource", "hard LOCKUP", "rcu_sched self-detected",
                     "rcu: INFO", "watchdog: BUG", "Call Trace"]
# Fields of query-rx-filter that are guest state (counters and host bookkeeping are not).
# QEMU's RxFilterInfo members, then Wren's raw flags and host level.
GUEST_STATE_FIELDS = ["promiscuous", "multicast", "unicast", "vlan", "broadcast-allowed", "main-mac",
                      "unicast-table", "multicast-table", "unicast-overflow", "multicast-overflow", "vlan-table"]
WREN_STATE_FIELDS = ["allmulti", "alluni", "nomulti", "nouni", "nobcast", "host_level"]

kernel, initrd = harness.guest_images()
check = Check()
cmdline = " ".join([harness.compat_cmdline(), IP_CONFIG, "wren_test.steps=" + ",".join(STEPS)])
net = f"tap=tap0,mac={GUEST_MAC}"
machine = ["--cpus", "1", "--memory", "256M", "--net", net]


def status(vm):
    return vm.request("query-status")["return"]["status"]


def guest_state(st):
    return {**{k: st.get(k) for k in GUEST_STATE_FIELDS}, **{k: st["wren"].get(k) for k in WREN_STATE_FIELDS}}


with Netns() as ns:
    snapshot = None
    with Wren(ns, ["--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline, *machine], name="source") as vm:
        snapshot = vm.workdir / "guest.snap"
        snapshot.unlink(missing_ok=True)
        vm.wait_for(r"WREN-TEST: ready mac=" + GUEST_MAC)
        ok, tries, out = ns.ping_until(GUEST_IP)
        check("host pings the guest before the snapshot", ok, out)
        wait_step(vm, 4)
        before = filter_state(vm)
        check("promiscuous before the snapshot", before["promiscuous"] is True, before)
        check("extra unicast installed", EXTRA_UC in [m.lower() for m in before["unicast-table"]], before)
        check("extra multicast installed", EXTRA_MC in [m.lower() for m in before["multicast-table"]], before)

        # stop: the guest stops answering; cont: it answers again.
        check("stop accepted", "return" in vm.request("stop"))
        check("query-status says paused", status(vm) == "paused")
        check("a paused guest does not answer ping", not ns.ping(GUEST_IP, count=2, timeout=2)[0])
        check("cont accepted", "return" in vm.request("cont"))
        check("query-status says running", status(vm) == "running")
        ok, tries, out = ns.ping_until(GUEST_IP)
        check("the resumed guest answers ping", ok, out)

        reply = vm.request("snapshot", path=str(snapshot), resume=False)
        log(f"snapshot reply: {reply}")
        check("snapshot written", "return" in reply and reply["return"]["bytes"] > 0, reply)
        check("guest stays paused after snapshot resume=false", status(vm) == "paused")
        before = filter_state(vm)
        vm.proc.kill()  # the VMM dies; only the file remains
        vm.proc.wait()

    inspect = subprocess.run([harness.wren_binary(), "snapshot", "inspect", str(snapshot)],
                             capture_output=True, text=True)
    check("wren snapshot inspect reads the file", inspect.returncode == 0, inspect.stderr)
    if inspect.returncode == 0:
        check("inspect shows the rx-filter payload", "virtio-net/rx-filter" in inspect.stdout)
        json.loads(inspect.stdout)

    garp = listen_for_gratuitous_arp(ns)
    with Wren(ns, ["--restore", str(snapshot), *machine], name="restored") as vm:
        vm.wait_api()
        events = EventWatcher(vm.api)
        check("restored guest is running", status(vm) == "running")
        after = filter_state(vm)
        check("query-rx-filter identical after restore", guest_state(after) == guest_state(before),
              f"\nbefore {guest_state(before)}\nafter  {guest_state(after)}")
        check("restored transport is at DRIVER_OK", after["wren"]["transport"]["device_status"] & 4 == 4,
              after["wren"]["transport"])
        ok, tries, out = ns.ping_until(GUEST_IP)
        check("restored guest answers ping", ok, out)
        check("restored guest announced itself (gratuitous ARP)", garp.wait(timeout=300) == 0)
        # The module continues its schedule: promiscuity goes off again.
        advance(vm, 4)
        wait_step(vm, 6)
        st = filter_state(vm)
        check("guest turned promiscuity off after the restore", st["promiscuous"] is False, st)
        check("rx-filter-changed event after the restore", len(events.named("NIC_RX_FILTER_CHANGED")) >= 1)
        probes(vm, check, [("own", GUEST_MAC, None, True), ("extra-uc", EXTRA_UC, None, True),
                           ("other-uc", "02:00:00:00:aa:01", None, False)])
        console = vm.console()
        complaints = [w for w in KERNEL_COMPLAINTS if w in console]
        check("guest kernel did not notice the gap", not complaints, complaints)
        check("quit accepted", "return" in vm.request("quit"))
        code = vm.wait_exit(timeout=60)
        check("wren exits 0 after quit", code == 0, f"status {code}")
        events.close()
check.finish()
