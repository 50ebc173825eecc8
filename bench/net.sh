#!/usr/bin/env bash
# Network benchmark: Wren vs Debian's qemu-system-x86_64 -enable-kvm
# (-netdev tap,vhost=off -device virtio-net-pci), same kernel, initramfs and
# command line. Prints host->guest and guest->host ping RTT and the VMM's host
# CPU time per round trip, with Wren/QEMU ratios.
# Usage: bench/net.sh [--pings N] [--interval-ms MS] [--flood N] [--idle-s S] [--rounds R]
#        (needs root: uses netns; see bench/net.py --help)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
bash "$repo/scripts/build.sh" release >/dev/null
exec python3 "$repo/bench/net.py" "$@"
