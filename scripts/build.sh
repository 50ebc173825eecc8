#!/usr/bin/env bash
# Builds Wren. Usage: scripts/build.sh [release|sanitize] (default release).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case "$kind" in
  release) dir="$repo/build"; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  sanitize) dir="$repo/build-asan"; flags=(-DCMAKE_BUILD_TYPE=Debug -DWREN_SANITIZE=ON) ;;
  fuzz) dir="$repo/build-fuzz"; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWREN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [release|sanitize|fuzz]" >&2; exit 2 ;;
esac
# ccache, with its cache beside the guest images (outside the work tree) and
# paths taken relative to the repository, so that a fresh clone reuses it.
if command -v ccache >/dev/null; then
  export CCACHE_DIR=${CCACHE_DIR:-${WREN_CACHE:-$HOME/.cache/wren}/ccache} CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=1
  flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$repo" -B "$dir" -G Ninja "${flags[@]}" >/dev/null
# The fuzz tree needs only its fuzzers; the other trees build everything.
targets=()
[[ $kind == fuzz ]] && targets=(fuzz_targets)
ninja -C "$dir" -j"$(nproc)" "${targets[@]}"
echo "$dir"
