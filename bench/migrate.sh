#!/usr/bin/env bash
# Live-migration benchmark: Wren vs Debian's qemu-system-x86_64 -enable-kvm,
# same kernel, initramfs and command line, each between its own two "hosts"
# (network namespaces joined by a veth pair). For an idle and a
# memory-dirtying guest: the largest gap in ping replies (the guest's view), the VMM's
# stop-to-resume time, the total migration time, and the wren/qemu ratios.
# Usage: bench/migrate.sh [--vmm both|wren|qemu] [--memory-mb M] [--downtime-ms D] [--ping-interval S]
# (needs root: uses netns; about 10 minutes here, mostly the two guests' boot)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
bash "$repo/scripts/build.sh" release >/dev/null
exec python3 "$repo/bench/migrate.py" "$@"
