#!/usr/bin/env bash
# Build (or fetch from cache) the test guest kernel and initramfs, and the
# disk-boot guest's two disks made from them.
# Prints KERNEL=<path>, INITRD=<path>, BOOT_DISK=<path> and ROOT_DISK=<path>
# on stdout (build output on stderr).
#   guest-images/build-all.sh [OUTDIR]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERNEL=$("$HERE/build-kernel.sh" "$@" | tail -n1)
INITRD=$("$HERE/build-initramfs.sh" "$@" | tail -n1)
[[ -f $KERNEL ]] || { echo "build-all: kernel not built" >&2; exit 1; }
[[ -f $INITRD ]] || { echo "build-all: initramfs not built" >&2; exit 1; }
DISKS=$(WREN_KERNEL=$KERNEL WREN_INITRD=$INITRD "$HERE/disk-boot/build.sh" "$@" | grep -E '^(BOOT|ROOT)_DISK=')
echo "KERNEL=$KERNEL"
echo "INITRD=$INITRD"
echo "$DISKS"
