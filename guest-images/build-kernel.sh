#!/usr/bin/env bash
# Build Wren's test guest kernel (bzImage) from Debian's linux-source-6.1.
#
#   guest-images/build-kernel.sh [OUTDIR]
#
# tinyconfig + kernel/config.fragment, kernel/*.patch applied in name order,
# test-module/*.c built in (obj-y). The result is cached at
#   ${WREN_CACHE:-$HOME/.cache/wren}/kernel/<hash>/bzImage
# where <hash> covers this script, the fragment, the patches, the module source
# and the linux-source package version. A reusable build tree is kept at
#   ${WREN_CACHE}/kernel/tree-<source version>
# so that a change to the module is an incremental build.
# If OUTDIR is given, bzImage is also copied there.
# All build output goes to stderr; the last stdout line is the absolute path
# to bzImage (OUTDIR/bzImage when OUTDIR is given).
# Environment: WREN_CACHE (cache root), WREN_JOBS (make -j, default 2).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
FRAGMENT="$HERE/kernel/config.fragment"
PATCHES=("$HERE"/kernel/*.patch)   # applied in name order
MODULE_SOURCES=("$HERE"/test-module/*.c)
SRCPKG=linux-source-6.1
SRCTAR=/usr/src/linux-source-6.1.tar.xz
CACHE=${WREN_CACHE:-$HOME/.cache/wren}
JOBS=${WREN_JOBS:-2}
OUTDIR=${1:-}

source "$HERE/cache.sh"
log() { echo "build-kernel: $*" >&2; }
die() { echo "build-kernel: ERROR: $*" >&2; exit 1; }

# --- dependencies (Debian packages), installed only when missing ------------
DEPS=(linux-source-6.1 bc flex bison libelf-dev libssl-dev gcc make patch xz-utils util-linux coreutils)
install_deps "${DEPS[@]}"
[[ -f $SRCTAR ]] || die "$SRCTAR not found (package $SRCPKG)"
for f in "$FRAGMENT" "${PATCHES[@]}" "${MODULE_SOURCES[@]}"; do [[ -f $f ]] || die "missing input $f"; done

SRCVER=$(dpkg-query -W -f='${Version}' "$SRCPKG")

# --- cache key ----------------------------------------------------------------
HASH=$(input_hash "$SELF" "$FRAGMENT" "${PATCHES[@]}" "${MODULE_SOURCES[@]}" -- "$SRCPKG")
RESULT_DIR="$CACHE/kernel/$HASH"
RESULT="$RESULT_DIR/bzImage"

emit() { emit_result "$RESULT" "$OUTDIR"; }

if [[ -f $RESULT ]]; then
    emit
    exit 0
fi

mkdir -p "$CACHE/kernel"
# One build at a time per cache (the build tree is shared).
exec 9>"$CACHE/kernel/.lock"
flock 9
if [[ -f $RESULT ]]; then   # built by someone else while we waited
    emit
    exit 0
fi

TREE="$CACHE/kernel/tree-$SRCVER"
START=$(date +%s)

# --- source tree ---------------------------------------------------------------
if [[ ! -f $TREE/.wren-extracted ]]; then
    log "extracting $SRCTAR into $TREE"
    rm -rf "$TREE" "$TREE.tmp"
    mkdir -p "$TREE.tmp"
    tar -xJf "$SRCTAR" -C "$TREE.tmp" --strip-components=1
    touch "$TREE.tmp/.wren-extracted"
    mv "$TREE.tmp" "$TREE"
fi
cd "$TREE"

# --- patches (idempotent; a changed set replaces the previously applied one) ---
COMBINED=$(mktemp)
trap 'rm -f "$COMBINED"' EXIT
cat "${PATCHES[@]}" >"$COMBINED"
if [[ -f .wren-applied.patch ]] && ! cmp -s .wren-applied.patch "$COMBINED"; then
    log "reverting previously applied patches"
    patch -p1 -R --forward -s <.wren-applied.patch >&2 || die "could not revert old patches"
    rm -f .wren-applied.patch
fi
if [[ ! -f .wren-applied.patch ]]; then
    log "applying ${PATCHES[*]##*/}"
    patch -p1 --forward -s <"$COMBINED" >&2 || die "patch failed"
    cp "$COMBINED" .wren-applied.patch
fi

# --- test module, built in ------------------------------------------------------
install_if_changed() { # <dest>, new content on stdin; keeps mtime if unchanged
    local tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; chmod 644 "$1"; fi
}
mkdir -p drivers/wren
objects=()
for src in "${MODULE_SOURCES[@]}"; do
    install_if_changed "drivers/wren/${src##*/}" <"$src"
    name=${src##*/}
    objects+=("${name%.c}.o")
done
install_if_changed drivers/wren/Makefile <<EOF
# SPDX-License-Identifier: GPL-2.0
# Wren test guest module (copied from wren guest-images/test-module/)
ccflags-y += -Werror
obj-y += ${objects[*]}
EOF
grep -qx 'obj-y += wren/' drivers/Makefile || printf '\n# Wren test guest\nobj-y += wren/\n' >>drivers/Makefile

# --- config ------------------------------------------------------------------------
CONFIG_STAMP=$({ sha256sum <"$FRAGMENT"; echo "$SRCVER"; } | sha256sum | cut -d' ' -f1)
if [[ ! -f .config || ! -f .wren-config.stamp || $(cat .wren-config.stamp) != "$CONFIG_STAMP" ]]; then
    log "generating .config (tinyconfig + fragment)"
    rm -f .wren-config.stamp
    make -s tinyconfig >&2
    scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" >&2
    make -s olddefconfig >&2
    echo "$CONFIG_STAMP" >.wren-config.stamp
fi
bad=0
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        grep -qxF "$line" .config || { log "config option dropped by olddefconfig: $line (have: $(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" .config || echo unset))"; bad=1; }
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        grep -qE "^${BASH_REMATCH[1]}=" .config && { log "config option should be unset: ${BASH_REMATCH[1]}"; bad=1; }
    fi
done <"$FRAGMENT"
if ((bad)); then
    rm -f .wren-config.stamp
    die "required config options missing after olddefconfig (see above)"
fi

# --- build ----------------------------------------------------------------------------
log "building bzImage in $TREE with -j$JOBS (full build ~5 min on 2 cores)"
make -j"$JOBS" bzImage >&2 || die "kernel build failed"
grep -q ' wren_test_init$' System.map || die "wren_test module not linked into vmlinux"

mkdir -p "$RESULT_DIR"
cp -f .config "$RESULT_DIR/config"
cp -f arch/x86/boot/bzImage "$RESULT.tmp"
mv -f "$RESULT.tmp" "$RESULT"
log "done in $(( $(date +%s) - START )) s: $RESULT ($(stat -c %s "$RESULT") bytes)"
emit
