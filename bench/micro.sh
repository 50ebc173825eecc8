#!/usr/bin/env bash
# Datapath microbenchmark (issue 15): what Wren's virtio-net device costs per
# frame, against the raw TAP floor, with no guest (bench/micro/).
# Usage: bench/micro.sh [--repetitions N] [net_micro / Google Benchmark flags...]
#        e.g. --benchmark_filter='^tx/frame:1514' (needs root: uses a netns)
#
# The wire: two TAPs, wm-guest and wm-peer, in one bridge inside a network
# namespace of our own (deleted on exit; the root namespace is not touched).
# A frame written to one TAP is forwarded by the bridge, inside the writer's
# system call, to the other TAP's queue. Every benchmark pays for the same
# peer-side work and the same crossing:
#   raw_tx   the benchmark writes on wm-guest (writev: vnet header + frame),
#            the peer reads on wm-peer                     - the TX floor
#   wren_tx  a fake guest posts chains and kicks; NetDevice writes them to
#            wm-guest; the peer reads on wm-peer
#   raw_rx   the peer writes on wm-peer, the benchmark reads on wm-guest
#                                                          - the RX floor
#   wren_rx  the peer writes on wm-peer; NetDevice wakes on its event loop,
#            reads wm-guest and delivers into the fake guest's buffers
# so wren/raw is Wren's per-frame cost as a multiple of the floor, with both
# TAP ends symmetric (both are TAP fds with a 12-byte vnet header and TSO
# offloads; neither side uses AF_PACKET, whose costs differ from a TAP's),
# and the raw side's frames in as much memory as the fake guest's buffers.
# Times are CPU time of the one thread that does all of it (the bridge runs
# inside its write calls). The table comes from the paired benchmarks `tx`
# and `rx`, which alternate raw and Wren in blocks so that both see the same
# load on a shared machine; repetitions run interleaved in random order, and
# the table shows medians.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "micro.sh: needs root (network namespace, TAPs)" >&2; exit 1; }

repetitions=5
filter='^(tx|rx)/'  # the paired benchmarks (see bench/micro/runner.cc); raw_* and wren_* run one path alone
args=()
while (($#)); do
  case "$1" in
    --repetitions) repetitions=$2; shift 2 ;;
    --benchmark_filter=*) filter=${1#*=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

bash "$repo/scripts/install-deps.sh"
build="$repo/build"
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" -j"${WREN_JOBS:-$(nproc)}" net_micro >&2

ns="wren-micro-$$"
out=$(mktemp --suffix=.json)
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -f "$out"
}
trap cleanup EXIT
ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
# No IPv6 autoconfiguration or MLD chatter on the wire.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip link add wm-br type bridge stp_state 0 forward_delay 0
for tap in wm-guest wm-peer; do
  in_ns ip tuntap add dev "$tap" mode tap vnet_hdr
  in_ns ip link set "$tap" master wm-br
  in_ns ip link set "$tap" up
done
in_ns ip link set wm-br up

in_ns "$build/bench/micro/net_micro" --guest-tap=wm-guest --peer-tap=wm-peer \
  --benchmark_repetitions="$repetitions" --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_filter="$filter" --benchmark_out="$out" --benchmark_out_format=json "${args[@]}" >&2
python3 "$repo/bench/micro/report.py" "$out"
