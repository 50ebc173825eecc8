#!/usr/bin/env bash
# Builds the two disks of the disk-boot test guest, with no root privileges,
# loop devices or mounts:
#   boot.img  Debian's GRUB (grub-mkrescue: a hybrid ISO 9660 image that a
#             BIOS boots as a hard disk) with grub.cfg, the test kernel as
#             /boot/bzImage and /boot/cmdline.cfg, a fixed-size slot for the
#             kernel command line that set-cmdline.py rewrites in a copy
#   root.img  ext4 made with `mke2fs -d` from a directory holding the test
#             initramfs's /init (taken out of that archive) and an empty /dev
#
#   guest-images/disk-boot/build.sh [OUTDIR]
#
# The kernel and initramfs are $WREN_KERNEL and $WREN_INITRD when both are
# set, else build-kernel.sh's and build-initramfs.sh's. Cached at
# ${WREN_CACHE:-$HOME/.cache/wren}/disk-boot/<hash>/, hash over this script,
# grub.cfg, set-cmdline.py, the kernel, the initramfs and the versions of
# GRUB, xorriso and e2fsprogs. With OUTDIR both images are copied there.
# Prints BOOT_DISK=<path> and ROOT_DISK=<path> (build output on stderr).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
CACHE=${WREN_CACHE:-$HOME/.cache/wren}
OUTDIR=${1:-}

source "$HERE/../cache.sh"
log() { echo "disk-boot: $*" >&2; }
die() { echo "disk-boot: ERROR: $*" >&2; exit 1; }

install_deps grub-pc-bin grub-common xorriso e2fsprogs cpio gzip

if [[ -n ${WREN_KERNEL:-} && -n ${WREN_INITRD:-} ]]; then
    KERNEL=$WREN_KERNEL INITRD=$WREN_INITRD
else
    KERNEL=$("$HERE/../build-kernel.sh" | tail -n1)
    INITRD=$("$HERE/../build-initramfs.sh" | tail -n1)
fi
[[ -f $KERNEL && -f $INITRD ]] || die "kernel ($KERNEL) or initramfs ($INITRD) missing"

# input_hash takes one package; the other tools' versions go in as a file
# (whose name is hashed too, so it is fixed).
TOOLS_DIR=$(mktemp -d)
TOOLS=$TOOLS_DIR/tool-versions
trap 'rm -rf "$TOOLS_DIR"' EXIT
dpkg-query -W -f='${Package} ${Version}\n' grub-common xorriso e2fsprogs >"$TOOLS"
HASH=$(input_hash "$SELF" "$HERE/grub.cfg" "$HERE/set-cmdline.py" "$KERNEL" "$INITRD" "$TOOLS" -- grub-pc-bin)
RESULT_DIR="$CACHE/disk-boot/$HASH"

emit() {
    echo "BOOT_DISK=$(emit_result "$RESULT_DIR/boot.img" "$OUTDIR")"
    echo "ROOT_DISK=$(emit_result "$RESULT_DIR/root.img" "$OUTDIR")"
}

if [[ -f $RESULT_DIR/boot.img && -f $RESULT_DIR/root.img ]]; then
    emit
    exit 0
fi

mkdir -p "$RESULT_DIR"
exec 9>"$CACHE/disk-boot/.lock"
flock 9
if [[ -f $RESULT_DIR/boot.img && -f $RESULT_DIR/root.img ]]; then   # built while we waited
    emit
    exit 0
fi
WORK=$(mktemp -d "$RESULT_DIR/.work.XXXXXX")
trap 'rm -rf "$WORK" "$TOOLS_DIR"' EXIT

# Boot disk: GRUB's own files plus ours; GRUB speaks only to COM1 (no
# locales, fonts or themes).
mkdir -p "$WORK/iso/boot/grub"
cp "$HERE/grub.cfg" "$WORK/iso/boot/grub/grub.cfg"
cp "$KERNEL" "$WORK/iso/boot/bzImage"
python3 "$HERE/set-cmdline.py" --slot "console=ttyS0" >"$WORK/iso/boot/cmdline.cfg"
grub-mkrescue --locales= --fonts= --themes= -o "$WORK/boot.img" "$WORK/iso" 2>"$WORK/mkrescue.log" \
    || { cat "$WORK/mkrescue.log" >&2; die "grub-mkrescue failed"; }
cp "$WORK/boot.img" "$WORK/probe.img"
python3 "$HERE/set-cmdline.py" "$WORK/probe.img" "probe" >&2   # the slot is there exactly once

# Root disk: /init as the initramfs has it, /dev for devtmpfs to mount on.
mkdir -p "$WORK/root/dev"
(cd "$WORK/root" && gzip -dc "$INITRD" | cpio -id --quiet init)
[[ -x $WORK/root/init ]] || die "$INITRD holds no /init"
truncate -s 8M "$WORK/root.img"
mke2fs -q -F -t ext4 -L wren-root -E root_owner=0:0 -d "$WORK/root" "$WORK/root.img" >&2

mv -f "$WORK/root.img" "$RESULT_DIR/root.img"
mv -f "$WORK/boot.img" "$RESULT_DIR/boot.img"
log "built $RESULT_DIR (boot.img $(stat -c %s "$RESULT_DIR/boot.img") bytes, root.img 8 MiB)"
emit
