#!/usr/bin/env bash
# Validate Wren's test guest (guest-images/) under QEMU, before Wren can run it:
# boots the kernel + initramfs with the pvm-compat command line on a TAP inside
# a private network namespace, pings the guest, and drives the wren_test
# module's steps while sending probe frames, checking which frames the guest
# saw and (through QMP query-rx-filter) which rx-filter state the guest's
# virtio_net driver programmed through the control queue.
#
#   tests/integration/qemu_probe/run.sh
#
# Needs root (netns, TAP), /dev/kvm, qemu-system-x86_64, python3.
# Boot takes ~4 minutes on the test machines. Output (serial log, QMP
# snapshots) goes to $WREN_PROBE_OUT (default: a new /tmp/wren-qemu-probe.*).
# Prints PASS/FAIL lines and closes with "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
GI="$ROOT/guest-images"

[[ $(id -u) -eq 0 ]] || { echo "qemu_probe: needs root (network namespace, TAP)" >&2; exit 1; }
bash "$ROOT/scripts/install-deps.sh" qemu-system-x86 python3 iproute2 iputils-ping
[[ -c /dev/kvm ]] || { echo "qemu_probe: no /dev/kvm" >&2; exit 1; }

eval "$("$GI/build-all.sh" | grep -E '^(KERNEL|INITRD)=/')"
: "${KERNEL:?} ${INITRD:?}"

OUT=${WREN_PROBE_OUT:-$(mktemp -d /tmp/wren-qemu-probe.XXXXXX)}
mkdir -p "$OUT"
LOG="$OUT/serial.log"
QMP="$OUT/qmp.sock"
: >"$LOG"
NS="wrenq$$"
GUEST_IP=10.77.0.2
HOST_IP=10.77.0.1
GUEST_MAC=52:54:00:12:34:56
MC_ADD=01:00:5e:01:02:03     # added by the guest (step mc+=), later removed
MC_NOT=01:00:5e:0a:0b:0c     # never added
OTHER=52:54:00:99:99:99      # unicast, not the guest's
BCAST=ff:ff:ff:ff:ff:ff
READY_TIMEOUT=${READY_TIMEOUT:-900}   # ~4 min idle; >9 min seen on a busy machine

# Step numbers below refer to this list.
NEW_MAC=52:54:00:12:34:57    # set by step mac=
STEPS="mc+=$MC_ADD,wait,report,promisc=1,wait,promisc=0,vlan+=5,wait,mc-=$MC_ADD,wait"
#      1           2    3      4         5    6         7       8    9           10
STEPS+=",uc+=$OTHER,allmulti=1,wait,uc-=$OTHER,allmulti=0,mac=$NEW_MAC,wait"
#       11          12         13   14          15         16           17
STEPS+=",bogus,dirty=on,sleep=5000,dirty=off,report,poweroff"
#       18    19       20         21        22     23
APPEND="$(tr -d '\n' <"$GI/profiles/pvm-compat.cmdline") ip=$GUEST_IP::$HOST_IP:255.255.255.0::eth0:off wren_test.steps=$STEPS"

QPID=
cleanup() {
    if [[ -n $QPID ]] && kill -0 "$QPID" 2>/dev/null; then
        kill "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
    fi
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { ip netns exec "$NS" "$@"; }
note() { echo "qemu_probe: $*"; }
PASSED=0 FAILED=0
check() { # name, then a command
    local name=$1; shift
    if "$@"; then echo "PASS $name"; PASSED=$((PASSED + 1)); else echo "FAIL $name"; FAILED=$((FAILED + 1)); fi
}
qemu_alive() { kill -0 "$QPID" 2>/dev/null; }
wait_log() { # regex timeout_s
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        grep -qE "$1" "$LOG" && return 0
        qemu_alive || { grep -qE "$1" "$LOG"; return; }
        sleep 1
    done
    return 1
}
send() { nsx python3 "$HERE/send_probe.py" tap0 "$@"; }
# Release the guest's `wait` step number $1: send "next" (broadcast, so it
# passes any filter) until "step $1 done".
advance() {
    local i
    for i in $(seq 1 60); do
        send "$BCAST,next"
        wait_log "WREN-TEST: step $1 done" 3 && return 0
    done
    return 1
}
seen() { grep -qE "WREN-TEST: rx tag=$1 dst=" "$LOG"; }
not_seen() { ! seen "$1"; }
rxfilter() { # phase name -> $OUT/rxfilter-<name>.json
    python3 "$HERE/qmp.py" "$QMP" query-rx-filter >"$OUT/rxfilter-$1.json" || echo '[]' >"$OUT/rxfilter-$1.json"
    python3 - "$OUT/rxfilter-$1.json" "$1" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))
for n in f:
    print("qemu_probe: rx-filter[%s] %s promisc=%s multicast=%s unicast=%s vlan=%s mc-table=%s uc-table=%s vlan-table=%s" % (
        sys.argv[2], n.get("name"), n.get("promiscuous"), n.get("multicast"), n.get("unicast"),
        n.get("vlan"), n.get("multicast-table"), n.get("unicast-table"), n.get("vlan-table")))
EOF
}
rxf() { # phase, python expression on n (the nic's rx-filter dict)
    python3 -c 'import json,sys; n=[x for x in json.load(open(sys.argv[1])) if x.get("name")=="nic0"][0]; sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$OUT/rxfilter-$1.json" "$2"
}

# --- namespace + TAP ---------------------------------------------------------------
ip netns add "$NS"
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
nsx ip addr add "$HOST_IP/24" dev tap0
nsx ip link set tap0 up

# --- boot --------------------------------------------------------------------------------
note "kernel $KERNEL"
note "initrd $INITRD"
note "output in $OUT"
START=$SECONDS
ip netns exec "$NS" qemu-system-x86_64 -enable-kvm -m 256 -smp 1 -nographic -no-reboot \
    -serial "file:$LOG" -monitor none -qmp "unix:$QMP,server=on,wait=off" \
    -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND" \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
    -device virtio-net-pci,netdev=n0,mac=$GUEST_MAC,id=nic0 \
    </dev/null >"$OUT/qemu.out" 2>&1 &
QPID=$!

if ! wait_log 'WREN-TEST: ready' "$READY_TIMEOUT"; then
    note "guest not ready after $((SECONDS - START)) s; last console lines:"
    tail -20 "$LOG" | sed 's/^/  | /'
    cat "$OUT/qemu.out"
    check "guest ready" false
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi
READY_S=$((SECONDS - START))
note "guest ready after $READY_S s: $(grep -m1 -o 'WREN-TEST: ready.*' "$LOG" | tr -d '\r')"
check "guest ready with mac $GUEST_MAC" grep -q "WREN-TEST: ready mac=$GUEST_MAC" "$LOG"

# --- ping ---------------------------------------------------------------------------------
nsx ping -c 3 -w 90 "$GUEST_IP" >"$OUT/ping.txt" 2>&1 || true
note "ping: $(grep -E 'packets transmitted|rtt' "$OUT/ping.txt" | tr '\n' ' ')"
check "ping $GUEST_IP" grep -qE ' [1-9][0-9]* received' "$OUT/ping.txt"

# --- phase A: mc+ done, filters normal ----------------------------------------------------
check "step 1 (mc+) rc=0" wait_log 'WREN-TEST: step 1 done rc=0' 120
wait_log 'WREN-TEST: step 2 wait' 120 || true
rxfilter A
send "$GUEST_MAC,a-ucast" "$BCAST,a-bcast" "$MC_ADD,a-mcadd" "$MC_NOT,a-mcnot" \
     "$OTHER,a-other" "$GUEST_MAC,a-vlan0,0" "$GUEST_MAC,a-vlan5,5"
check "step 2 (wait) released" advance 2
check "A: unicast to guest MAC arrives" seen a-ucast
check "A: broadcast arrives" seen a-bcast
check "A: added multicast arrives" seen a-mcadd
check "A: priority-tagged (vid 0) arrives" seen a-vlan0
check "A: non-added multicast filtered" not_seen a-mcnot
check "A: other unicast filtered" not_seen a-other
check "A: vid 5 filtered (not added yet)" not_seen a-vlan5
check "A: QMP multicast table has $MC_ADD" rxf A "'$MC_ADD' in n.get('multicast-table', [])"
check "A: QMP promiscuous off" rxf A "not n['promiscuous']"

# --- phase B: promisc=1 ------------------------------------------------------------------
check "step 4 (promisc=1) rc=0" wait_log 'WREN-TEST: step 4 done rc=0' 120
wait_log 'WREN-TEST: step 5 wait' 120 || true
rxfilter B
send "$OTHER,b-other" "$MC_NOT,b-mcnot" "$GUEST_MAC,b-vlan5,5"
check "step 5 (wait) released" advance 5
check "B: promisc: other unicast arrives" seen b-other
check "B: promisc: non-added multicast arrives" seen b-mcnot
check "B: promisc: vid 5 arrives" seen b-vlan5
check "B: QMP promiscuous on" rxf B "n['promiscuous']"

# --- phase C: promisc=0, vlan+=5 ---------------------------------------------------------
check "step 7 (vlan+=5) rc=0" wait_log 'WREN-TEST: step 7 done rc=0' 120
wait_log 'WREN-TEST: step 8 wait' 120 || true
rxfilter C
send "$OTHER,c-other" "$GUEST_MAC,c-vlan5,5" "$GUEST_MAC,c-vlan6,6"
check "step 8 (wait) released" advance 8
check "C: vid 5 arrives after vlan+=5" seen c-vlan5
check "C: vid 6 filtered" not_seen c-vlan6
check "C: other unicast filtered again" not_seen c-other
check "C: QMP vlan table has 5" rxf C "5 in n.get('vlan-table', [])"
check "C: QMP promiscuous off again" rxf C "not n['promiscuous']"

# --- phase D: mc- ------------------------------------------------------------------------
check "step 9 (mc-) rc=0" wait_log 'WREN-TEST: step 9 done rc=0' 120
wait_log 'WREN-TEST: step 10 wait' 120 || true
rxfilter D
# The guest is idle now (step 10 waits, /init spins): RTT without boot work.
nsx ping -c 5 -i 0.5 -w 60 "$GUEST_IP" >"$OUT/ping-idle.txt" 2>&1 || true
note "ping while idle: $(grep -E 'packets transmitted|rtt' "$OUT/ping-idle.txt" | tr '\n' ' ')"
check "ping $GUEST_IP while guest idle" grep -qE ' [1-9][0-9]* received' "$OUT/ping-idle.txt"
send "$MC_ADD,d-mcadd" "$GUEST_MAC,d-ucast"
check "step 10 (wait) released" advance 10
check "D: removed multicast filtered" not_seen d-mcadd
check "D: unicast still arrives" seen d-ucast
check "D: QMP multicast table lacks $MC_ADD" rxf D "'$MC_ADD' not in n.get('multicast-table', [])"

# --- phase E: uc+=OTHER, allmulti=1 ---------------------------------------------------------
check "step 11 (uc+) rc=0" wait_log 'WREN-TEST: step 11 done rc=0' 120
check "step 12 (allmulti=1) rc=0" wait_log 'WREN-TEST: step 12 done rc=0' 120
wait_log 'WREN-TEST: step 13 wait' 120 || true
rxfilter E
send "$OTHER,e-other" "$MC_NOT,e-mcnot" "52:54:00:77:77:77,e-other2"
check "step 13 (wait) released" advance 13
check "E: added unicast address arrives" seen e-other
check "E: allmulti: non-added multicast arrives" seen e-mcnot
check "E: other unicast still filtered" not_seen e-other2
check "E: QMP unicast table has $OTHER" rxf E "'$OTHER' in n.get('unicast-table', [])"
check "E: QMP multicast all" rxf E "n['multicast'] == 'all'"

# --- phase F: uc-, allmulti=0, mac=NEW_MAC ------------------------------------------------------
check "step 16 (mac=) rc=0" wait_log 'WREN-TEST: step 16 done rc=0' 120
check "mac now=$NEW_MAC" grep -q "WREN-TEST: mac now=$NEW_MAC" "$LOG"
wait_log 'WREN-TEST: step 17 wait' 120 || true
rxfilter F
send "$NEW_MAC,f-newmac" "$GUEST_MAC,f-oldmac" "$OTHER,f-other" "$MC_NOT,f-mcnot"
check "step 17 (wait) released" advance 17
check "F: new MAC arrives" seen f-newmac
check "F: old MAC filtered" not_seen f-oldmac
check "F: removed unicast filtered" not_seen f-other
check "F: allmulti off: non-added multicast filtered" not_seen f-mcnot
check "F: QMP main-mac $NEW_MAC" rxf F "n['main-mac'] == '$NEW_MAC'"

# --- bad step, dirty workload, report, poweroff ----------------------------------------------
check "unknown step reported bad" wait_log 'WREN-TEST: step 18 bad' 120
check "dirty=off rc=0" wait_log 'WREN-TEST: step 21 done rc=0' 180
check "dirty prints counters" bash -c "(( \$(grep -ac 'WREN-TEST: counter=' '$LOG') >= 2 ))"
check "dirty: no memory mismatch" bash -c "! grep -aq 'WREN-TEST: dirty mismatch' '$LOG'"
check "report lists tag next" wait_log 'WREN-TEST: rxcount tag=next n=' 120
check "steps run up to poweroff" wait_log 'WREN-TEST: step 23 poweroff' 120
deadline=$((SECONDS + 120))
while qemu_alive && ((SECONDS < deadline)); do sleep 1; done
check "poweroff ends QEMU" bash -c "! kill -0 $QPID 2>/dev/null"

note "total $((SECONDS - START)) s; WREN-TEST lines:"
grep -a 'WREN-TEST:' "$LOG" | tr -d '\r' | sed 's/^/  | /'
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
