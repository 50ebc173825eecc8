#!/usr/bin/env bash
# Runs a command, from the current folder and with the current environment,
# on a machine with /dev/kvm: a QEMU (TCG) VM whose CPU has AMD SVM, where
# Debian's kernel loads kvm_amd. For hosts without /dev/kvm (a KVM that will
# not nest, a container): the tests that need KVM then run here, on a real
# KVM, inside the VM. The VM sees the host's root file system read-only and
# the repository writable at the same path, so build trees and caches work
# unchanged; /tmp and /run are its own. Exits with the command's status.
#   scripts/kvm-vm/run.sh COMMAND [ARG...]
# WREN_VM_MEMORY (default 6G) and WREN_VM_TIMEOUT (seconds, default 3000);
# WREN_VM_STALL (seconds, default 300): a VM silent that long is stalled
# (exit status 75);
# WREN_VM_SCRATCH=SIZE adds an empty ext4 disk of SIZE at /run/wren-scratch.
# One VM at a time per host: a second caller waits (lock /tmp/wren-kvm-vm.lock).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
(($#)) || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
case $PWD/ in "$repo"/*) ;; *) echo "kvm-vm: run it from inside $repo" >&2; exit 2 ;; esac

# The VM takes every core: callers on one host take turns.
exec 8>/tmp/wren-kvm-vm.lock
flock -n 8 || { echo "kvm-vm: another KVM host VM is running; waiting for it" >&2; flock 8; }

eval "$(bash "$here/build.sh" | grep -E '^(KERNEL|INITRD)=')"
job=$(mktemp -d)
trap 'rm -rf "$job"' EXIT
{
  export -p | grep -v -E '^declare -x (PWD|OLDPWD|SHLVL|_|TERM)='
  printf 'cd %q\n' "$PWD"
  printf '%q ' "$@"
  echo
} >"$job/command"

# An ext4 scratch disk at /run/wren-scratch, for what tmpfs cannot do (O_DIRECT).
scratch=() append=
if [[ -n ${WREN_VM_SCRATCH:-} ]]; then
  truncate -s "$WREN_VM_SCRATCH" "$job/scratch.img"
  scratch=(-drive "file=$job/scratch.img,if=virtio,format=raw,cache=unsafe")
  append=" wren.scratch=1"
fi

share=security_model=none,multidevs=remap
qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu "${WREN_VM_CPU:-max,la57=off}" -smp "$(nproc)" -m "${WREN_VM_MEMORY:-6G}" \
  -nographic -no-reboot -net none -monitor "unix:$job/monitor,server=on,wait=off" \
  -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 quiet panic=-1 wren.repo=$repo$append" "${scratch[@]}" \
  -virtfs "local,path=/,mount_tag=hostroot,readonly=on,$share" \
  -virtfs "local,path=$repo,mount_tag=repo,$share" \
  -virtfs "local,path=$job,mount_tag=job,$share" </dev/null > >(sed -u 's/\r$//') 2>&1 &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true; rm -rf "$job"' EXIT

# The emulator can stop the whole VM: no CPU makes progress and nothing
# inside can notice (hold_kvm_keys.py avoids the one cause we found). The
# VM's init writes a heartbeat every 10 s; when it stops changing, this names
# where the CPUs were, ends the VM and exits with 75, so that a caller can
# start another.
stall_limit=${WREN_VM_STALL:-300}
deadline=$((SECONDS + ${WREN_VM_TIMEOUT:-3000}))
beat= beat_seen=$SECONDS outcome=
while kill -0 "$qemu" 2>/dev/null; do
  sleep 5
  latest=$(cat "$job/heartbeat" 2>/dev/null || true)
  [[ $latest == "$beat" ]] || { beat=$latest; beat_seen=$SECONDS; }
  if ((SECONDS - beat_seen > stall_limit)); then
    echo "kvm-vm: no heartbeat from the VM for ${stall_limit}s: it stalled; its CPUs were at:" >&2
    python3 "$here/cpu_report.py" "$job/monitor" "$job/kallsyms" >&2 || true
    outcome=stalled
  elif ((SECONDS > deadline)); then
    echo "kvm-vm: the VM ran past WREN_VM_TIMEOUT (${WREN_VM_TIMEOUT:-3000}s)" >&2
    outcome=timeout
  fi
  [[ -z $outcome ]] || { kill "$qemu"; break; }
done
wait "$qemu" || true
[[ $outcome != stalled ]] || exit 75
if [[ ! -s $job/status ]]; then
  echo "kvm-vm: the VM ended without the command's exit status (crashed or timed out)" >&2
  exit 1
fi
exit "$(cat "$job/status")"
