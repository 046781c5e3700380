#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make test-clients: the full real-client suite (tests/clients/*.bats) on
# real mounts, CLIENT_ROUNDS rounds of each kill (default 5), then the
# report of every round (kills, acknowledged commits checked, losses) and one
# line "N passed, N failed".
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
export LETHEFS="$top/$build/lethefs"
export CLIENT_REPORT="$top/$build/clients-report.txt"
: >"$CLIENT_REPORT"
log=$(mktemp /tmp/lethefs-clients.XXXXXX)
bats --tap "$top/tests/clients" 2>&1 | tee "$log"
pass=$(grep -cE '^ok [0-9]+' "$log")
skip=$(grep -cE '^ok [0-9]+.*# (skip|SKIP)' "$log")
fail=$(grep -cE '^not ok [0-9]+' "$log")
echo
echo "== rounds ($CLIENT_REPORT)"
cat "$CLIENT_REPORT"
rm -f "$log"
echo "$((pass - skip)) passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
