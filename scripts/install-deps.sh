#!/usr/bin/env bash
# Installs Wren's build, test and guest-image dependencies from Debian's
# packages. Idempotent: does nothing when everything is already installed.
#   scripts/install-deps.sh            everything Wren needs
#   scripts/install-deps.sh PKG...     only these (used by the image scripts)
# Progress goes to stderr, so callers' stdout stays theirs.
set -euo pipefail
exec 1>&2

packages=(
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  linux-libc-dev libboost-dev libcereal-dev libspdlog-dev libcli11-dev nlohmann-json3-dev liburing-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3 iproute2 iputils-ping procps e2fsprogs
  linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio gzip xz-utils
  qemu-system-x86 ccache
  seabios ipxe qemu-system-data
  grub-pc-bin grub-common xorriso
  golang-go golang-github-digitalocean-go-qemu-dev
)
(($#)) && packages=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  [[ $(id -u) -eq 0 ]] || { echo "install-deps: run as root to install packages" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
