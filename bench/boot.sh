#!/usr/bin/env bash
# Boot benchmark: Wren vs Debian's qemu-system-x86_64 -enable-kvm, same kernel,
# initramfs and command line. Prints medians and Wren/QEMU ratios.
# Usage: bench/boot.sh [--runs N] [--memory-mb M]   (needs root: uses netns)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
bash "$repo/scripts/build.sh" release >/dev/null
exec python3 "$repo/bench/boot.py" "$@"
