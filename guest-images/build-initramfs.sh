#!/usr/bin/env bash
# Build Wren's test guest initramfs: a gzip'd newc cpio holding /dev/console
# (char 5,1) and /init, a static x86-64 binary built from initramfs/init.S that
# never makes a system call (`1: pause; jmp 1b`).
#
#   guest-images/build-initramfs.sh [OUTDIR]
#
# Cached at ${WREN_CACHE:-$HOME/.cache/wren}/initramfs/<hash>/initramfs.cpio.gz,
# hash over this script, init.S and the linux-source package version (the
# archive is written by the kernel's own usr/gen_init_cpio.c, so no root and
# no mknod are needed, and the output is reproducible).
# If OUTDIR is given, the file is also copied there.
# The last stdout line is the absolute path of the initramfs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
INIT_S="$HERE/initramfs/init.S"
SRCPKG=linux-source-6.1
SRCTAR=/usr/src/linux-source-6.1.tar.xz
CACHE=${WREN_CACHE:-$HOME/.cache/wren}
OUTDIR=${1:-}

source "$HERE/cache.sh"
log() { echo "build-initramfs: $*" >&2; }
die() { echo "build-initramfs: ERROR: $*" >&2; exit 1; }

DEPS=(linux-source-6.1 gcc binutils xz-utils gzip coreutils util-linux)
install_deps "${DEPS[@]}"
[[ -f $INIT_S ]] || die "missing $INIT_S"
[[ -f $SRCTAR ]] || die "$SRCTAR not found (package $SRCPKG)"
SRCVER=$(dpkg-query -W -f='${Version}' "$SRCPKG")

HASH=$(input_hash "$SELF" "$INIT_S" -- "$SRCPKG")
RESULT_DIR="$CACHE/initramfs/$HASH"
RESULT="$RESULT_DIR/initramfs.cpio.gz"

emit() { emit_result "$RESULT" "$OUTDIR"; }

if [[ -f $RESULT ]]; then
    emit
    exit 0
fi

mkdir -p "$RESULT_DIR"
WORK=$(mktemp -d "$RESULT_DIR/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# /init
gcc -nostdlib -static -no-pie -Wl,--build-id=none -o "$WORK/init" "$INIT_S" >&2
readelf -h "$WORK/init" | grep -q 'Class:.*ELF64' || die "init is not ELF64"
readelf -h "$WORK/init" | grep -q 'Type:.*EXEC' || die "init is not a static executable"
if readelf -l "$WORK/init" | grep -q INTERP; then die "init has an interpreter"; fi
if objdump -d "$WORK/init" | grep -Eq '\b(syscall|sysenter|int +\$0x80)\b'; then
    die "init contains a system call instruction"
fi

touch -d @0 "$WORK/init"   # reproducible archive

# gen_init_cpio from the kernel source (one self-contained C file).
tar -xJf "$SRCTAR" -C "$WORK" --strip-components=2 linux-source-6.1/usr/gen_init_cpio.c
gcc -O2 -o "$WORK/gen_init_cpio" "$WORK/gen_init_cpio.c" >&2

cat >"$WORK/list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 1777 0 0
dir /mnt 0755 0 0
dir /root 0700 0 0
file /init $WORK/init 0755 0 0
EOF
"$WORK/gen_init_cpio" -t 0 "$WORK/list" >"$WORK/initramfs.cpio"
gzip -9 -n <"$WORK/initramfs.cpio" >"$WORK/initramfs.cpio.gz"
mv -f "$WORK/initramfs.cpio.gz" "$RESULT"
log "built $RESULT ($(stat -c %s "$RESULT") bytes)"
emit
