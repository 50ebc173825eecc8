#!/usr/bin/env bash
# Build (or fetch from cache) the test guest kernel and initramfs.
# Prints KERNEL=<path> and INITRD=<path> on stdout (build output on stderr).
#   guest-images/build-all.sh [OUTDIR]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERNEL=$("$HERE/build-kernel.sh" "$@" | tail -n1)
INITRD=$("$HERE/build-initramfs.sh" "$@" | tail -n1)
[[ -f $KERNEL ]] || { echo "build-all: kernel not built" >&2; exit 1; }
[[ -f $INITRD ]] || { echo "build-all: initramfs not built" >&2; exit 1; }
echo "KERNEL=$KERNEL"
echo "INITRD=$INITRD"
