#!/usr/bin/env bash
# Boot benchmark: Wren vs Debian's qemu-system-x86_64 -enable-kvm, same kernel,
# initramfs and command line. Prints medians and Wren/QEMU ratios.
#   --mode linux      the test guest to `Run /init` (default)
#   --mode firmware   the same through SeaBIOS (fw_cfg kernel loading: --firmware / -bios)
#   --mode multiboot  the multiboot test kernel with two modules, to its test exit
# Usage: bench/boot.sh [--mode linux|firmware|multiboot] [--runs N] [--memory-mb M]   (needs root: uses netns)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
bash "$repo/scripts/build.sh" release >/dev/null
exec python3 "$repo/bench/boot.py" "$@"
