#!/usr/bin/env bash
# The tests labelled kvm, from built trees: the ASan+UBSan build's RealKvm
# unit tests, then the release build's RealKvm unit tests and integration
# boots. scripts/test.sh runs it inside the KVM host VM when this machine has
# no /dev/kvm of its own. Fails on a failed or a skipped test.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
ip link set lo up 2>/dev/null || true
status=0
# In the KVM host VM (WREN_IN_KVM_VM=1) a failed test runs once more: the
# emulator's nested SVM now and then crashes a guest, or hangs, in ways we
# have not traced to Wren (README, "Machines without /dev/kvm"). A defect fails
# twice; the first failure stays in the log.
retry=()
[[ ${WREN_IN_KVM_VM:-0} == 1 ]] && retry=(--repeat until-pass:2)
ctest --test-dir build-asan -L kvm -LE integration -j1 "${retry[@]}" --timeout 600 --output-on-failure 2>&1 | tee "$log" || status=1
ctest --test-dir build -L kvm -j1 "${retry[@]}" --output-on-failure --timeout 2400 2>&1 | tee -a "$log" || status=1
if grep -q "The following tests did not run" "$log"; then
  echo "some tests were skipped; this suite must run every test" >&2
  status=1
fi
exit $status
