#!/usr/bin/env bash
# Builds Wren and the test guest, then boots the guest with networking: a
# network namespace "wren-demo" holds the TAP (10.77.0.1/24); the guest is
# 10.77.0.2 and answers pings from inside the kernel. The console is on this
# terminal; press Ctrl-C to stop. Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash scripts/install-deps.sh
wren=$(bash scripts/build.sh release | tail -n1)/wren
eval "$(bash guest-images/build-all.sh | grep -E '^(KERNEL|INITRD)=')"

ns=wren-demo
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev tap0 mode tap vnet_hdr
ip -n "$ns" addr add 10.77.0.1/24 dev tap0
ip -n "$ns" link set tap0 up

cmdline="$(cat guest-images/profiles/pvm-compat.cmdline) ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off"
cat <<MSG
Booting the test guest (on a software KVM backend this takes a few minutes).
When the console shows "WREN-TEST: ready", try from another terminal:
    ip netns exec $ns ping 10.77.0.2
MSG
ip netns exec "$ns" "$wren" run --kernel "$KERNEL" --initrd "$INITRD" --memory 256M --cpus 2 \
  --cmdline "$cmdline" --net tap=tap0,mac=52:54:00:12:34:56 --api unix:/tmp/wren-demo.api "$@" || status=$?
exit "${status:-0}"
