#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make test-faults: the whole crash and full-disk sweep, the same with the
# kernel's writeback cache off (contents operations), full disks on ext4,
# random kills, and the integration tests whose sweeps make test samples,
# in full (LETHEFS_FULL_SWEEP=1); then one summary and a Markdown work list
# (docs/TESTING.md). Usage: tests/fault/run-all.sh BUILD_DIR [KILL_ROUNDS]
# FAULT_ARGS and KILL_ARGS (environment) are passed to sweep.py/kills.py.
set -u
build=${1:-build}
rounds=${2:-12}
here=$(cd "$(dirname "$0")" && pwd)
out=$build/test-faults
mkdir -p "$out"
rm -f "$out"/*.json
contents=append-unaligned,append-in-block,append-aligned,write-cross-last-block,overwrite-middle
contents=$contents,write-gap-small,write-gap-large,truncate-shrink-unaligned,truncate-shrink-aligned
contents=$contents,truncate-zero,truncate-extend,truncate-extend-large,fallocate,create-write
rc=0
step() { # name, then the command
	local name=$1
	shift
	echo "=== $name"
	"$@" >"$out/$name.log" 2>&1
	local r=$?
	grep -vE '^  (FAIL|ok) ' "$out/$name.log" | tail -14
	[ $r -le 1 ] || { echo "$name: harness error (exit $r), see $out/$name.log"; rc=2; }
	[ $r -ne 1 ] || [ $rc -ne 0 ] || rc=1
}
# shellcheck disable=SC2086
step sweep python3 "$here/sweep.py" --build "$build" --json "$out/sweep.json" ${FAULT_ARGS:-}
# shellcheck disable=SC2086
step sweep-nowb python3 "$here/sweep.py" --build "$build" --opts no_writeback_cache \
	--ops "$contents" --json "$out/sweep-nowb.json" ${FAULT_ARGS:-}
# With inode attributes (-o iattr, FORMAT.md 14.9): every operation that
# writes a file's mode or owner, and the contents ones beside them.
# shellcheck disable=SC2086
step sweep-iattr python3 "$here/sweep.py" --build "$build" --opts iattr \
	--json "$out/sweep-iattr.json" ${FAULT_ARGS:-}
# Shared mode (several hosts; range locks, no writeback cache): the
# contents operations.
# shellcheck disable=SC2086
step sweep-shared python3 "$here/sweep.py" --build "$build" --opts shared \
	--ops "$contents" --json "$out/sweep-shared.json" ${FAULT_ARGS:-}
# shellcheck disable=SC2086
step sweep-ext4 python3 "$here/sweep.py" --build "$build" --modes fullfs --fullfs-fs ext4 \
	--json "$out/sweep-ext4.json" ${FAULT_ARGS:-}
# shellcheck disable=SC2086
step kills python3 "$here/kills.py" --build "$build" --rounds "$rounds" \
	--json "$out/kills.json" ${KILL_ARGS:-}
# The integration tests whose sweeps `make test` samples, with every call
# number (LETHEFS_FULL_SWEEP=1; docs/TESTING.md lists what each samples).
full_bats=()
for f in 30-faults 35-staging-crash 41-rotation-crash 46-upgrade; do
	full_bats+=("$here/../integration/$f.bats")
done
step bats-full env LETHEFS_FULL_SWEEP=1 LETHEFS="$(cd "$build" && pwd)/lethefs" \
	bats --tap --timing "${full_bats[@]}"
echo "bats-full: $(grep -cE '^ok [0-9]+' "$out/bats-full.log") ok, $(grep -cE '^not ok [0-9]+' "$out/bats-full.log") not ok"
python3 "$here/report.py" --summary "$out"/sweep*.json "$out/kills.json"
python3 "$here/report.py" "$out"/sweep*.json "$out/kills.json" >"$out/report.md"
echo "work list: $out/report.md; logs: $out/*.log"
exit $rc
