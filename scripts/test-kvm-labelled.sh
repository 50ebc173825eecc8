#!/usr/bin/env bash
# The tests labelled kvm, from built trees: the ASan+UBSan build's RealKvm
# unit tests, then the release build's RealKvm unit tests and integration
# boots. scripts/test.sh runs it inside the KVM host VM when this machine has
# no /dev/kvm of its own. Fails on a failed or a skipped test.
# WREN_KVM_PASSED=FILE makes it resumable: each test that passes is recorded
# there ("BUILD_DIR NUMBER"), and a test already recorded is not run again,
# so a new VM after a stalled one (scripts/kvm-vm/run.sh) goes on from there.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
passed=${WREN_KVM_PASSED:-$(mktemp)}
expected=()
ip link set lo up 2>/dev/null || true
status=0
# In the KVM host VM (WREN_IN_KVM_VM=1) a failed test runs once more: the
# emulator's nested SVM now and then crashes a guest, or hangs, in ways we
# have not traced to Wren (README, "Machines without /dev/kvm"). A defect fails
# twice; the first failure stays in the log.
retry=()
[[ ${WREN_IN_KVM_VM:-0} == 1 ]] && retry=(--repeat until-pass:2)

# Runs the tests of build tree $1 that ctest's remaining arguments select,
# less those recorded as passed.
run_tests() {
  local dir=$1
  shift
  local selected numbers=() number
  selected=$(ctest --test-dir "$dir" -N "$@" | sed -n 's/^ *Test *#\([0-9]*\):.*/\1/p')
  if [[ -z $selected ]]; then
    echo "no tests selected in $dir by: $*" >&2
    return 1
  fi
  for number in $selected; do
    expected+=("$dir $number")
    grep -qx "$dir $number" "$passed" 2>/dev/null || numbers+=("$number")
  done
  ((${#numbers[@]})) || return 0
  local list
  list=$(IFS=,; echo "${numbers[*]}")
  # Only the numbers: ctest 3.25 selects nothing when -I meets -LE.
  ctest --test-dir "$dir" -I "0,0,0,$list" -j1 "${retry[@]}" --output-on-failure 2>&1 |
    while IFS= read -r line; do
      printf '%s\n' "$line"
      if [[ $line =~ Test\ +#([0-9]+):.*\ Passed ]]; then echo "$dir ${BASH_REMATCH[1]}" >>"$passed"; fi
    done | tee -a "$log"
  return "${PIPESTATUS[0]}"
}

run_tests build-asan -L kvm -LE integration || status=1
run_tests build -L kvm || status=1
if grep -q "The following tests did not run" "$log"; then
  echo "some tests were skipped; this suite must run every test" >&2
  status=1
fi
# Whatever ctest or a pipe did, every selected test must have passed.
for test in "${expected[@]}"; do
  grep -qx "$test" "$passed" || { echo "not passed: $test" >&2; status=1; }
done
exit $status
