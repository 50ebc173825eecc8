#!/usr/bin/env bash
# Builds, or takes from the cache, the KVM host VM: Debian's own kernel
# package and a busybox initramfs holding the modules Wren's tests need
# (kvm_amd, 9p, tun, veth, bridge, 8021q, sch_tbf, sch_netem, and virtio_blk
# and ext4 for the optional scratch disk). Prints KERNEL=<path> INITRD=<path>.
# Cached in ${WREN_CACHE:-~/.cache/wren}/kvm-vm, keyed by the package
# versions and these scripts; a miss costs one 70 MB download and seconds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WREN_CACHE:-$HOME/.cache/wren}/kvm-vm

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
kernel_package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [[ -z $kernel_package || -z $(candidate busybox-static) ]]; then
  apt-get update -qq >&2
  kernel_package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
kernel_version=$(candidate "$kernel_package")
busybox_version=$(candidate busybox-static)
key=$( { echo "$kernel_package=$kernel_version busybox-static=$busybox_version"; cat "$here/init" "$here/build.sh"; } |
  sha256sum | cut -c1-16)
out=$cache/$key

if [[ ! -f $out/initrd.gz ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "kvm-vm: fetching $kernel_package=$kernel_version and busybox-static=$busybox_version" >&2
  # apt-get download warns when its sandbox user cannot write the folder.
  chmod 777 "$work"
  (cd "$work" && apt-get download -qq "$kernel_package=$kernel_version" "busybox-static=$busybox_version" >&2)
  dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"
  release=$(ls "$work/kernel/lib/modules")
  modules=$work/kernel/lib/modules/$release
  "$work/busybox/bin/busybox" depmod -b "$work/kernel" "$release"

  root=$work/root
  mkdir -p "$root"/{bin,proc,sys,dev,host,tmp} "$root/lib/modules/$release"
  cp "$work/busybox/bin/busybox" "$root/bin/"
  for applet in sh mount umount modprobe chroot mkdir cat sed sync poweroff; do ln -s busybox "$root/bin/$applet"; done
  # Where the kernel looks when it loads a module on demand.
  mkdir -p "$root/sbin" && ln -s ../bin/busybox "$root/sbin/modprobe"
  # Each wanted module with everything modules.dep says it needs.
  for m in kvm-amd 9pnet_virtio 9p virtio_pci tun veth bridge 8021q sch_tbf sch_netem virtio_blk crc32c_generic ext4; do
    grep -E "/$m\.ko:" "$modules/modules.dep" | tr -d ':' | tr ' ' '\n'
  done | sort -u | while read -r ko; do
    mkdir -p "$root/lib/modules/$release/$(dirname "$ko")"
    cp "$modules/$ko" "$root/lib/modules/$release/$ko"
  done
  cp "$modules"/modules.{dep,alias,builtin,order,symbols} "$root/lib/modules/$release/"
  install -m 755 "$here/init" "$root/init"

  mkdir -p "$out.tmp"
  cp "$work/kernel/boot/vmlinuz-$release" "$out.tmp/vmlinuz"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp/initrd.gz"
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "KERNEL=$out/vmlinuz"
echo "INITRD=$out/initrd.gz"
