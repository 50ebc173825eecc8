"""Driving the in-guest test module and reading a NIC's receive filter: the
steps shared by the virtio-net, snapshot and migration tests."""

import time

GUEST_MAC = "52:54:00:12:34:56"
GUEST_IP = "10.77.0.2"
IP_CONFIG = f"ip={GUEST_IP}::10.77.0.1:255.255.255.0::eth0:off"


def filter_state(vm):
    """The single NIC's query-rx-filter entry."""
    reply = vm.request("query-rx-filter")
    assert "return" in reply, reply
    nics = reply["return"]
    assert len(nics) == 1, nics
    return nics[0]


def wait_step(vm, step, timeout=300):
    """Waits until the module sits in wait-step `step`."""
    vm.wait_for(rf"WREN-TEST: step {step} wait", timeout=timeout)


def advance(vm, step, mac=GUEST_MAC):
    """Sends `next` probes until the module finishes wait-step `step`."""
    pattern = rf"WREN-TEST: step {step} done"
    for _ in range(120):
        vm.netns.send_probe(mac, "next")
        try:
            return vm.wait_for(pattern, timeout=5)
        except AssertionError:
            if vm.proc.poll() is not None:
                raise
    raise AssertionError(f"wait step {step} never completed")


def probes(vm, check, expect, mac=GUEST_MAC):
    """Sends one probe per (name, dst, vlan, should_arrive) and checks which arrive."""
    stamp = f"{time.monotonic_ns() % 100000}"
    for name, dst, vlan, _ in expect:
        vm.netns.send_probe(dst, f"{name}-{stamp}", vlan=vlan)
    sync = f"sync-{stamp}"
    vm.netns.send_probe(mac, sync)
    vm.wait_for(rf"rx tag={sync} ", timeout=120)
    time.sleep(2)  # frames on other queues may trail the sync frame
    console = vm.console()
    for name, dst, vlan, should in expect:
        arrived = f"rx tag={name}-{stamp} " in console
        check(f"probe {name} to {dst}{' vlan ' + str(vlan) if vlan else ''} "
              f"{'arrives' if should else 'is dropped'}", arrived == should)


def listen_for_gratuitous_arp(ns, mac=GUEST_MAC, ip=GUEST_IP, timeout=300):
    """Starts a listener on the namespace's TAP that exits 0 when `mac` sends a
    gratuitous ARP for `ip` (sender IP == target IP: the announce after a
    restore or migration), 1 on timeout. Returns the Popen once the listener
    is bound, so an announce sent right after cannot be missed."""
    import subprocess
    import sys
    code = (
        "import socket,struct,sys,time\n"
        # ETH_P_ALL: a bridge port hands protocol-specific sockets nothing.
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\n"
        f"s.bind(({ns.tap!r},0)); s.settimeout(1)\n"
        "print('ready', flush=True)\n"
        f"mac=bytes.fromhex({mac.replace(':', '')!r}); ip=socket.inet_aton({ip!r})\n"
        f"end=time.time()+{timeout}\n"
        "while time.time()<end:\n"
        "    try: f=s.recv(2048)\n"
        "    except socket.timeout: continue\n"
        "    if f[12:14]==b'\\x08\\x06' and f[6:12]==mac and f[28:32]==ip and f[38:42]==ip: sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    listener = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", code],
                                stdout=subprocess.PIPE, text=True)
    if listener.stdout.readline().strip() != "ready":
        raise RuntimeError("gratuitous-ARP listener did not start")
    return listener
