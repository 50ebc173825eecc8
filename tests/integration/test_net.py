"""Issues 3 and 4: the real Linux virtio_net driver drives Wren's virtio-net
device. One boot checks, step by step: the PCI driver binds the device (MSI-X
in modern mode), the host pings the guest, the driver's own multicast table
shows up in query-rx-filter, and the in-guest test module switches
promiscuity, all-multicast, extra addresses and VLANs; after each switch the
test compares query-rx-filter and sends probe frames that must and must not
reach the guest.

usage: test_net.py --transport modern|transitional [--queues N]"""

import argparse

import harness
from guest_net import GUEST_MAC, IP_CONFIG, advance, filter_state, probes, wait_step
from harness import Check, EventWatcher, Netns, Wren, log

parser = argparse.ArgumentParser()
parser.add_argument("--transport", default="modern", choices=["modern", "transitional"])
parser.add_argument("--queues", type=int, default=1)
args = parser.parse_args()

EXTRA_UC = "02:11:22:33:44:55"
EXTRA_MC = "01:00:5e:01:02:03"
OTHER_UC = "02:00:00:00:aa:01"
OTHER_MC = "01:00:5e:7f:00:01"
BROADCAST = "ff:ff:ff:ff:ff:ff"
STEPS = [
    "wait",                                        # 1  phase A: driver defaults
    "promisc=1", "wait",                           # 2-3  phase B
    "promisc=0", "allmulti=1", "wait",             # 4-6  phase C
    "allmulti=0", f"mc+={EXTRA_MC}", f"uc+={EXTRA_UC}", "wait",  # 7-10 phase D
    "vlan+=5", "wait",                             # 11-12 phase E
    "vlan-=5", "report", "wait",                   # 13-15 phase F
    "poweroff",                                    # 16
]

kernel, initrd = harness.guest_images()
check = Check()
cmdline = [harness.compat_cmdline(), IP_CONFIG,
           "wren_test.steps=" + ",".join(STEPS)]
if args.transport == "transitional":
    cmdline.append("virtio_pci.force_legacy=1")
net = f"tap=tap0,mac={GUEST_MAC},queues={args.queues},transport={args.transport}"


with Netns(multi_queue=args.queues > 1) as ns, Wren(ns, ["--kernel", kernel, "--initrd", initrd, "--cmdline", " ".join(cmdline),
                              "--cpus", "1", "--memory", "256M", "--net", net], name=f"net-{args.transport}") as vm:
    vm.wait_for(r"WREN-TEST: ready mac=" + GUEST_MAC)
    events = EventWatcher(vm.api)
    console = vm.console()
    check("PCI found the virtio-net function", "[1af4:1041]" in console if args.transport == "modern"
          else "[1af4:1000]" in console)
    tr = filter_state(vm)["wren"]["transport"]
    check(f"transport is {args.transport}", tr["mode"] == args.transport, tr)
    check("guest driver reached DRIVER_OK", tr["device_status"] & 4 == 4, tr)
    check("MSI-X enabled by the guest driver", tr["msix_enabled"] is True, tr)
    ok, tries, out = ns.ping_until("10.77.0.2")
    log(f"ping answered after {tries} attempt(s)")
    check("host pings the guest", ok, out + str(filter_state(vm)["wren"]["counters"]))

    # Phase A: the driver's own table, no promiscuity.
    wait_step(vm, 1)
    st = filter_state(vm)
    mc = {m.lower() for m in st["multicast-table"]}
    check("driver installed IPv6 all-nodes", "33:33:00:00:00:01" in mc, st)
    check("driver installed IPv4 all-systems", "01:00:5e:00:00:01" in mc, st)
    check("driver installed solicited-node", "33:33:ff:12:34:56" in mc, st)
    check("not promiscuous at start", st["promiscuous"] is False, st)
    check("main MAC reported", st["main-mac"].lower() == GUEST_MAC, st)
    probes(vm, check, [("a-own", GUEST_MAC, None, True), ("a-bcast", BROADCAST, None, True),
                ("a-uc", OTHER_UC, None, False), ("a-mc", OTHER_MC, None, False),
                ("a-allsys", "01:00:5e:00:00:01", None, True)])

    # Phase B: promiscuous.
    advance(vm, 1)
    wait_step(vm, 3)
    st = filter_state(vm)
    check("promisc on in rx filter", st["promiscuous"] is True, st)
    check("host level all when promiscuous", st["wren"]["host_level"] == "all", st)
    check("rx-filter-changed event sent", len(events.named("NIC_RX_FILTER_CHANGED")) >= 1)
    probes(vm, check, [("b-uc", OTHER_UC, None, True), ("b-mc", OTHER_MC, None, True)])

    # Phase C: all-multicast.
    advance(vm, 3)
    wait_step(vm, 6)
    st = filter_state(vm)
    check("promisc off, allmulti on", st["promiscuous"] is False and st["multicast"] == "all", st)
    check("host level multicast", st["wren"]["host_level"] == "multicast", st)
    probes(vm, check, [("c-uc", OTHER_UC, None, False), ("c-mc", OTHER_MC, None, True)])

    # Phase D: extra unicast and multicast addresses.
    advance(vm, 6)
    wait_step(vm, 10)
    st = filter_state(vm)
    check("allmulti off", st["multicast"] == "normal", st)
    check("extra unicast in table", EXTRA_UC in [m.lower() for m in st["unicast-table"]], st)
    check("extra multicast in table", EXTRA_MC in [m.lower() for m in st["multicast-table"]], st)
    probes(vm, check, [("d-uc", EXTRA_UC, None, True), ("d-mc", EXTRA_MC, None, True),
                ("d-other-mc", OTHER_MC, None, False), ("d-other-uc", OTHER_UC, None, False)])

    # Phase E: VLAN 5 added.
    advance(vm, 10)
    wait_step(vm, 12)
    st = filter_state(vm)
    check("vlan 5 in filter", 5 in st["vlan-table"], st)
    probes(vm, check, [("e-v5", GUEST_MAC, 5, True), ("e-v7", GUEST_MAC, 7, False)])
    # The TAP filter passes our MAC whatever the tag, so the device itself
    # must have dropped the VLAN 7 frame, and counted it.
    st = filter_state(vm)
    check("device-side VLAN drop is counted", st["wren"]["counters"]["rx_filtered_by_reason"]["vlan"] >= 1, st)

    # Phase F: VLAN 5 removed.
    advance(vm, 12)
    wait_step(vm, 15)
    st = filter_state(vm)
    check("vlan 5 removed", 5 not in st["vlan-table"], st)
    probes(vm, check, [("f-v5", GUEST_MAC, 5, False), ("f-own", GUEST_MAC, None, True)])

    advance(vm, 15)
    status = vm.wait_exit(timeout=600)
    check("wren exits 0 after guest power-off", status == 0, f"status {status}")
    events.close()
check.finish()
