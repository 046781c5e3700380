#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# FUSE requests per entry of a tar extract and of its rm -rf, on a fresh
# lethefs mount, from the daemon's counters (status --json: fuse_requests).
# Counts do not depend on the machine's load, so this is how a knob that
# should save round trips is measured (docs/PERFORMANCE.md, "Requests per
# file"). Prints one line per workload: seconds, requests per entry, and
# the operations that moved, per entry.
# Usage: sudo scripts/bench-requests.sh [TAR] [MOUNT OPTION...]
#   TAR defaults to a tar of /usr/include (made once under /var/tmp);
#   e.g. scripts/bench-requests.sh "" -o no_writeback_cache
# BENCH_STRACE=1 also counts the daemon's system calls during the extract
# and the rm -rf (strace -f -c; it slows the daemon, so its times are not
# comparable with runs without it) and prints the thread creations and
# syncs among them, per entry.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
L=${LETHEFS:-$top/build/lethefs}
TAR=${1:-}
shift || true
if [[ -z $TAR ]]; then
	TAR=/var/tmp/lethefs-bench-include.tar
	[[ -f $TAR ]] || tar -cf "$TAR" -C /usr include
fi
T=$(mktemp -d /var/tmp/lethefs-bench-requests.XXXXXX)
trap '"$L" umount --timeout 120s "$T/mnt" >/dev/null 2>&1 || fusermount3 -u "$T/mnt" 2>/dev/null || true; rm -rf "$T"' EXIT
mkdir -p "$T/mnt"
printf 'bench-requests\n' >"$T/pass"
chmod 600 "$T/pass"
"$L" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/vault" >/dev/null 2>&1
"$L" mount --passfile "$T/pass" "$@" "$T/vault" "$T/mnt"
n=$(tar -tf "$TAR" | wc -l)
top_entry=$(tar -tf "$TAR" | awk 'NR == 1 { sub("/.*", ""); print }')

requests() {
	"$L" status --json "$T/mnt" | python3 -c '
import json, sys
for k, v in json.load(sys.stdin)["fuse_requests"].items():
    print(k, v)'
}
# before after seconds label: "label: S s, R requests per entry (op N, ...)"
report() {
	awk -v n="$n" -v s="$3" -v l="$4" 'NR == FNR { b[$1] = $2; next }
		{ d = $2 - b[$1]; t += d; if (d > 0) o = o sprintf("%s%s %.2f", o ? ", " : "", $1, d / n) }
		END { printf "%s: %.2f s, %.2f requests per entry (%s)\n", l, s, t / n, o }' "$1" "$2"
}
# The daemon's CPU time so far (user + system, its exited threads too), in
# seconds: less at the mercy of other programs' load than the wall time.
daemon_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' \
		"/proc/$(pgrep -o -f "lethefs mount .*$T/vault")/stat"
}
timed() { # label command...
	local label=$1 t0 t1 c0 c1
	shift
	sync
	echo 3 >/proc/sys/vm/drop_caches
	requests >"$T/before"
	c0=$(daemon_cpu)
	t0=$(date +%s.%N)
	"$@"
	sync
	t1=$(date +%s.%N)
	c1=$(daemon_cpu)
	requests >"$T/after"
	report "$T/before" "$T/after" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$label"
	awk -v a="$c0" -v b="$c1" -v l="$label" 'BEGIN { printf "%s: daemon CPU %.2f s\n", l, b - a }'
}
# label command...: the command, under strace -f -c of the daemon when
# BENCH_STRACE=1.
traced() {
	local label=$1 spid pid
	shift
	if [[ ${BENCH_STRACE:-0} != 1 ]]; then
		timed "$label" "$@"
		return
	fi
	pid=$(pgrep -o -f "lethefs mount .*$T/vault")
	strace -qq -f -c -o "$T/strace" -p "$pid" 2>/dev/null &
	spid=$!
	sleep 1 # attached to every thread
	timed "$label" "$@"
	kill -INT "$spid"
	wait "$spid" || true
	awk -v n="$n" -v l="$label" '$NF ~ /^(clone3?|fork|fsync|fdatasync|syncfs|mmap|munmap|mprotect|madvise)$/ {
			o = o sprintf("%s%s %d (%.3f)", o ? ", " : "", $NF, $4, $4 / n) }
		END { printf "%s: daemon system calls (per entry): %s\n", l, o ? o : "none counted" }' "$T/strace"
}
echo "$n entries from $TAR; mount options: ${*:-none}"
traced "tar -xf +sync" tar -xf "$TAR" -C "$T/mnt"
traced "rm -rf +sync" rm -rf "${T:?}/mnt/$top_entry"
