#!/usr/bin/env bash
# Packet-rate benchmark (issue 15): the multiboot test kernel's packet
# blaster under Wren and under QEMU (-accel kvm -netdev tap,vhost=off
# -device virtio-net-pci), one after the other in one run, each on its own
# TAP in a network namespace this script creates; a host-side pump counts
# and sends the frames. Prints TX and RX Mpps at 64 B, Gbps at 1514 B and
# with TSO, host CPU per frame, and Wren/QEMU ratios. A benchmark, not a test.
#
# Usage: bench/pps.sh [--tx64 N] [--tx1500 N] [--tso N] [--rx64 N] [--rx1500 N]
#                     [--rounds R] [--vmms wren,qemu] [--ring3probe N]   (root)
#
# It needs /dev/kvm. On a machine without one (such as the development
# machines, where KVM does not nest), run it in the KVM host VM:
#   scripts/kvm-vm/run.sh bash bench/pps.sh [options]
# (this script does that itself when /dev/kvm is missing, after building the
# three targets it needs natively: the VM compiles slowly).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -e $repo/build/build.ninja ]]; then
  bash "$repo/scripts/install-deps.sh"
  cmake -S "$repo" -B "$repo/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$repo/build" wren pps_pump multiboot_test_kernel >/dev/null
if [[ ! -e /dev/kvm ]]; then
  echo "pps.sh: no /dev/kvm here: running in the KVM host VM (scripts/kvm-vm/run.sh)" >&2
  cd "$repo"
  exec bash scripts/kvm-vm/run.sh bash bench/pps.sh "$@"
fi
exec python3 "$repo/bench/pps.py" "$@"
