"""Issue 7: multiboot kernels and the test-exit device. Boots the project's
multiboot test kernel (guest-images/multiboot-test) in both forms, ELF and
a.out kludge, with two modules and a command line; the kernel prints what the
multiboot information structure told it and writes the `exit=N` of its
command line to port 0xf4, so `wren run` must exit with (N << 1) | 1. The ELF boot has --pc-testdev, whose data register
the kernel drives with port and string I/O of each width, whose memory window it writes and reads back, and whose IRQ
lines it drives into an edge- and a level-triggered IOAPIC input (counting the interrupts in its IDT); the a.out boot
has none and must read all ones and see no interrupt. Both check the HPET (capabilities, a counting main counter, a
one-shot on input 20 and one on the legacy route) and port 0x92, and a third boot resets through port 0x92. Issue 13:
a guest KVM cannot run must not exit 1 under --test-exit. Also checks that a file that is neither a bzImage nor
multiboot is refused."""

import re
import shutil
import struct
import tempfile
import time
from pathlib import Path

import harness
from harness import Check, Netns, Wren, log

check = Check()

# wren run's exit statuses for its own failures (README, "Exit statuses").
GUEST_FAILURE, HOST_FAILURE = 4, 6


def emulation_failure_kernel():
    """A multiboot kernel (a.out kludge, loaded at 1 MiB) whose first
    instruction is popcnt, which the software KVM's emulator cannot run
    (ENVIRONMENT.md). Where it runs natively, the kernel goes on to load an
    empty IDT and raise #UD: a triple fault, also a guest failure."""
    base, magic, flags = 0x100000, 0x1BADB002, 1 << 16
    header = struct.pack("<8I", magic, flags, (-(magic + flags)) & 0xFFFFFFFF,
                         base, base, 0, 0, base + 32)
    idt_pointer = base + 32 + 16
    code = (bytes([0xF3, 0x0F, 0xB8, 0xC0])                            # popcnt %eax, %eax
            + bytes([0x0F, 0x01, 0x1D]) + struct.pack("<I", idt_pointer)  # lidt idt_pointer
            + bytes([0x0F, 0x0B])                                      # ud2
            + bytes([0xF4, 0xEB, 0xFD]))                               # hlt; jmp hlt
    code += bytes(16 - len(code))
    return header + code + bytes(6)                                    # idt_pointer: limit 0, base 0


def line_of(console, prefix):
    """The console line starting with prefix, for failure messages."""
    found = re.search(re.escape(prefix) + r".*", console)
    return found.group(0) if found else f"no '{prefix}' line"


def boot(ns, name, args):
    with Wren(ns, args, name=name) as vm:
        t0 = time.monotonic()
        status = vm.wait_exit(timeout=120)
        log(f"{name}: wren exited with {status} after {time.monotonic() - t0:.1f} s")
        console, stderr = vm.console(), vm.stderr_path.read_text()
        if status < 0 or status % 2 == 0:
            vm.dump()
        return status, console, stderr


with Netns() as ns:
    workdir = Path(tempfile.mkdtemp(prefix="wren-multiboot-"))
    mod0, mod1 = workdir / "module-zero", workdir / "module-one"
    mod0.write_text("first module payload\nsecond line\n")
    mod1.write_bytes(b"second\0binary")
    modules = f"{mod0} alpha=1 beta,{mod1}"

    for name, code, test_exit, testdev in [("multiboot-elf", 21, "iobase=0xf4", True),
                                           ("multiboot-aout", 100, "iobase=0xf4,iosize=4", False)]:
        guest = harness.manifest_guest(name)
        args = harness.boot_args(guest, modules=modules, cmdline=f"exit={code} hello multiboot", test_exit=test_exit)
        args += ["--pc-testdev"] if testdev else []
        kernel = args[args.index("--kernel") + 1]
        memory_mb = int(args[args.index("--memory") + 1].rstrip("M"))
        status, console, stderr = boot(ns, name, args)
        expected = (code << 1) | 1
        check(f"{name}: healthy console", re.search(guest["healthy"], console) is not None)
        check(f"{name}: wren exits with (code << 1) | 1 = {expected}", status == expected, f"status {status}")
        check(f"{name}: banner on COM1", "wren multiboot test kernel: hello" in console)
        check(f"{name}: boot loader name", "loader: wren\n" in console)
        check(f"{name}: command line is 'KERNEL CMDLINE'",
              f"cmdline: {kernel} exit={code} hello multiboot\n" in console)
        check(f"{name}: memory sizes", f"mem_lower: 639 KiB, mem_upper: {(memory_mb - 1) * 1024} KiB" in console)
        check(f"{name}: memory map has RAM from 1 MiB",
              f"mmap: base 0x0000000000100000 length 0x{(memory_mb - 1) << 20:016x} type 1" in console)
        check(f"{name}: memory map reserves the EBDA and BIOS area",
              "mmap: base 0x000000000009fc00 length 0x0000000000060400 type 2" in console)
        check(f"{name}: two modules", "modules: 2\n" in console)
        check(f"{name}: module 0 with its arguments and contents",
              f"module 0: {mod0} alpha=1 beta size {mod0.stat().st_size} data 'first module payload'" in console)
        check(f"{name}: module 1", f"module 1: {mod1} size {mod1.stat().st_size} data 'second'" in console)
        probe = re.search(r"pc-testdev: .*", console)
        expected_probe = "pc-testdev: 12ab5633 56335633" if testdev else "pc-testdev: ffffffff ffffffff"
        check(f"{name}: pc-testdev register {'reads back' if testdev else 'is absent'}",
              probe is not None and probe.group(0) == expected_probe, probe and probe.group(0))
        iomem = "0bad5afe" if testdev else "ffffffff"
        check(f"{name}: pc-testdev memory window {'reads back' if testdev else 'is absent'}",
              f"pc-testdev iomem: {iomem}\n" in console, line_of(console, "pc-testdev iomem:"))
        irqs = "edge 2 level 3 other 0" if testdev else "edge 0 level 0 other 0"
        check(f"{name}: pc-testdev IRQ lines: edge input twice, level input until lowered" if testdev
              else f"{name}: no pc-testdev IRQ lines, no interrupts", f"ioapic: {irqs}\n" in console,
              line_of(console, "ioapic:"))
        check(f"{name}: HPET: capabilities, counter, one-shot on input 20, legacy route to input 2",
              "hpet: id 8086a201 period 00989680 counting 1 fired 1 legacy 1\n" in console, line_of(console, "hpet:"))
        check(f"{name}: port 0x92 reads A20 on", "port92: 02\n" in console, line_of(console, "port92:"))
        check(f"{name}: kernel read its exit code", f"exit code: {code}" in console)
        check(f"{name}: no VMM error report", "stopped:" not in stderr, stderr[-500:])

    # Fast reset: bit 0 of port 0x92 ends the run as a reset (exit status 0)
    # before the kernel reaches its test exit.
    guest = harness.manifest_guest("multiboot-elf")
    args = harness.boot_args(guest, modules=modules, cmdline="exit=5 reset92", test_exit="iobase=0xf4")
    status, console, stderr = boot(ns, "multiboot-reset92", args)
    check("port 0x92 reset: wren exits 0 (reset), not through the test exit", status == 0, f"status {status}")
    check("port 0x92 reset: the kernel asked for it", "port92: resetting\n" in console, console[-300:])
    check("port 0x92 reset: the kernel did not go on", "port92: no reset" not in console and "exit code:" not in console,
          console[-300:])

    # Neither a bzImage nor a multiboot kernel: refused before the guest runs.
    junk = workdir / "not-a-kernel"
    junk.write_bytes(b"just some bytes\n" * 1024)
    junk_args = harness.boot_args(harness.manifest_guest("multiboot-elf"), multiboot_elf=str(junk),
                                  modules=str(mod1), cmdline="", test_exit="iobase=0xf4")
    status, _, stderr = boot(ns, "not-a-kernel", junk_args)
    check(f"unknown image: wren exits {HOST_FAILURE} (host failure)", status == HOST_FAILURE, f"status {status}")
    check("unknown image: message says what it is not", "neither a Linux bzImage" in stderr, stderr[-500:])

    # A guest KVM cannot run, under --test-exit: never status 1 ("the guest
    # wrote 0"), but the guest-failure status.
    failing = workdir / "emulation-failure.bin"
    failing.write_bytes(emulation_failure_kernel())
    fail_args = harness.boot_args(harness.manifest_guest("multiboot-elf"), multiboot_elf=str(failing),
                                  modules=str(mod1), cmdline="", test_exit="iobase=0xf4")
    status, _, stderr = boot(ns, "emulation-failure", fail_args)
    check(f"KVM failure under --test-exit: wren exits {GUEST_FAILURE}, not 1", status == GUEST_FAILURE,
          f"status {status}")
    check("KVM failure: a report with the registers", "RIP=" in stderr, stderr[-500:])
    log("KVM failure was " + ("an emulation failure" if "KVM internal error" in stderr else
                              "a triple fault (popcnt ran natively)" if "triple fault" in stderr else "neither"))
    shutil.rmtree(workdir)
check.finish()
