#!/usr/bin/env bash
# Builds everything and runs the whole test suite: unit tests (release and
# ASan+UBSan builds), fuzz targets for a fixed budget, and the integration
# tests that boot real guests on /dev/kvm. Needs root (KVM, TAP, netns).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start ))s] $*"; }

stamp "dependencies"
bash scripts/install-deps.sh

stamp "formatting (.clang-format)"
bash scripts/check-format.sh

# The guest kernel is the slowest artifact (minutes on a fresh machine, cached
# afterwards): build it while the VMM compiles.
stamp "guest images (cached in ${WREN_CACHE:-$HOME/.cache/wren})"
images_log=$(mktemp)
bash guest-images/build-all.sh >"$images_log" 2>&1 &
images_pid=$!

stamp "build: release"
bash scripts/build.sh release >/dev/null
stamp "build: asan+ubsan"
bash scripts/build.sh sanitize >/dev/null
stamp "build: fuzz (clang libFuzzer)"
bash scripts/build.sh fuzz >/dev/null

if ! wait "$images_pid"; then
  cat "$images_log"
  echo "guest image build failed" >&2
  exit 1
fi
eval "$(grep -E '^(KERNEL|INITRD)=' "$images_log" | sed 's/^/export WREN_/')"
stamp "guest kernel: $WREN_KERNEL"

# Runs ctest and also fails on a skipped test: every test must run here.
run_ctest() {
  local log
  log=$(mktemp)
  ctest "$@" 2>&1 | tee "$log"
  if grep -q "The following tests did not run" "$log"; then
    echo "some tests were skipped; this suite must run every test" >&2
    exit 1
  fi
  rm -f "$log"
}

# The tests labelled kvm open /dev/kvm: the integration boots (labels
# integration and kvm) and the RealKvm unit tests (label kvm). Where this machine has no usable /dev/kvm (a KVM that
# will not nest, a container), they run on a real KVM all the same: inside
# the KVM host VM (scripts/kvm-vm: QEMU with an emulated SVM CPU and Debian's
# kernel with kvm_amd), with the same build trees; everything else runs here.
kvm_error=$(python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>&1 | tail -n1 || true)
if [[ -n $kvm_error ]]; then
  stamp "no usable /dev/kvm here ($kvm_error): the kvm-labelled tests run in the KVM host VM"
  # The VM boots one guest at a time (two at once crashed guests more often
  # in the emulator), which leaves CPU for the native tests meanwhile; its
  # log is shown when it ends.
  # When the emulator stalls the whole VM (run.sh exits with 75), a new VM
  # goes on with the tests that have not passed yet, at most twice.
  vm_log=$(mktemp)
  kvm_passed=$repo/build/kvm-labelled.passed
  rm -f "$kvm_passed"
  run_kvm_vm() {
    local attempt status
    for attempt in 1 2 3; do
      status=0
      # Each VM gets what is left of CI's hour (less time to report).
      WREN_VM_TIMEOUT=$((start + 3300 - $(date +%s))) WREN_IN_KVM_VM=1 WREN_KVM_PASSED=$kvm_passed \
        bash scripts/kvm-vm/run.sh bash scripts/test-kvm-labelled.sh || status=$?
      ((status == 75)) || return "$status"
      echo "== the KVM host VM stalled (attempt $attempt); a new one goes on from the tests that passed"
    done
    return 75
  }
  run_kvm_vm >"$vm_log" 2>&1 &
  vm_pid=$!
  stamp "unit + fuzz tests (asan+ubsan build), without the kvm label"
  run_ctest --test-dir build-asan -L unit -j1 --output-on-failure
  run_ctest --test-dir build-fuzz -L fuzz -j1 --output-on-failure
  stamp "unit tests (release build), without the kvm label"
  run_ctest --test-dir build -LE kvm -j1 --output-on-failure
  stamp "waiting for the KVM host VM: asan+ubsan RealKvm unit tests, then release RealKvm unit tests and boots"
  vm_status=0
  wait "$vm_pid" || vm_status=$?
  cat "$vm_log"
  ((vm_status == 0)) || { echo "kvm-labelled tests failed in the KVM host VM (status $vm_status)" >&2; exit 1; }
  stamp "done"
  exit 0
fi

stamp "unit + fuzz tests (asan+ubsan build)"
run_ctest --test-dir build-asan -L 'unit|kvm' -LE integration -j2 --output-on-failure
run_ctest --test-dir build-fuzz -L fuzz -j2 --output-on-failure

stamp "all tests (release build): unit, integration boots"
run_ctest --test-dir build -j2 --output-on-failure --timeout 2400
stamp "done"
