#!/usr/bin/env bash
# Disk benchmark: Wren vs Debian's qemu-system-x86_64 -enable-kvm
# (-device virtio-blk-pci, aio=io_uring, cache=none where the file system
# takes O_DIRECT), same image, kernel, initramfs and command line; and the
# same I/O pattern straight on the image (the physical limit). Prints
# sequential MB/s, random 4 KiB IOPS and host CPU per request, with ratios.
# Usage: bench/blk.sh [--mib N] [--ops N] [--qd N] [--rounds R] [--dir DIR]
#        (needs root: uses a netns; see bench/blk.py --help). Without
#        /dev/kvm it runs inside the KVM host VM (scripts/kvm-vm/run.sh), on
#        an ext4 scratch disk there, so that cache=none (O_DIRECT) works.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
bash "$repo/scripts/build.sh" release >/dev/null
eval "$(bash "$repo/guest-images/build-all.sh" | sed 's/^/export WREN_/')"
cd "$repo"
if [[ -e /dev/kvm ]]; then
  exec python3 bench/blk.py "$@"
fi
# The VM's /tmp is tmpfs, which refuses O_DIRECT: give it an ext4 scratch disk.
export WREN_VM_SCRATCH=${WREN_VM_SCRATCH:-1G}
exec bash scripts/kvm-vm/run.sh python3 bench/blk.py --dir /run/wren-scratch "$@"
