#!/usr/bin/env python3
"""Keeps two idle KVM VMs open for the life of the KVM host VM, so that the
kernel's static keys which KVM switches as VMs come and go stay on.

Why: each switch of a static key patches kernel text with a breakpoint and
waits, with an IPI, until every other CPU has synchronised. In the
emulator (multi-threaded TCG) that now and then never ends: one CPU keeps
taking the breakpoint in __schedule (the preempt-notifier key's site) while
the other waits for it in smp_call_function_many_cond, and the whole VM
stops. A key that is already on is only counted, not patched, when the next
VM comes or goes. The keys: preempt notifiers (every VM), apic_sw_disabled
(a vCPU with an in-kernel LAPIC that its guest has not enabled) and
kvm_has_noapic_vcpu (a vCPU without one, as the RealKvm unit tests create).
"""
import fcntl
import os
import signal

KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_CREATE_IRQCHIP = 0xAE60


def idle_vm(kvm, with_irqchip):
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
    if with_irqchip:
        fcntl.ioctl(vm, KVM_CREATE_IRQCHIP, 0)
    vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    return vm, vcpu


def main():
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    held = [idle_vm(kvm, True), idle_vm(kvm, False)]
    print(f"kvm-vm: holding {len(held)} idle KVM VMs (static keys stay on)", flush=True)
    signal.pause()


if __name__ == "__main__":
    main()
