#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Backing-store system calls per created entry of a tar extract, counted
# with strace on the daemon (docs/PERFORMANCE.md, "Backing calls per
# created file"). On a network engine (GlusterFS) each backing call is a
# round trip, so this count, not the time on a local disk, sets the pace
# of metadata-heavy work there. Counts do not depend on the machine's load.
#
# For each mode (an exclusive mount, then -o shared), on a fresh vault in a
# local directory: mount, attach `strace -f` to the daemon, `tar -xf` the
# first N entries, `sync -f`, detach; then print, per extracted entry, the
# calls by system call. Calls on /dev/fuse (the requests and their replies)
# and calls that touch no file (futex, mmap, clock_gettime, ...) are left
# out; the control thread's once-a-second tick is counted with the rest.
# An O_PATH open of /proc/self/fd/N (a descriptor the daemon holds) is
# listed apart as openat-proc-O_PATH: it reaches no backing filesystem.
#
# Usage: sudo scripts/bench-calls.sh [N] [TAR]
#   N    entries to extract (default 200)
#   TAR  archive to take them from (default: the first N paths of
#        /usr/include in name order)
# Environment: LETHEFS (binary, default build/lethefs), BENCH_CALLS_MODES
# ("exclusive shared" by default), BENCH_CALLS_KEEP=DIR keeps each mode's
# full trace as DIR/MODE.trace (strace -yy, one line per call).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-common.sh
source "$top/scripts/bench-common.sh"
L=${LETHEFS:-$top/build/lethefs}
N=${1:-200}
TAR=${2:-}
MODES=${BENCH_CALLS_MODES:-exclusive shared}
command -v strace >/dev/null || {
	echo "bench-calls: needs strace (apt-get install strace)" >&2
	exit 2
}
T=$(mktemp -d /var/tmp/lethefs-bench-calls.XXXXXX)
SPID=
cleanup() {
	[[ -z $SPID ]] || kill "$SPID" 2>/dev/null || true
	if mountpoint -q "$T/mnt" 2>/dev/null; then
		"$L" umount --timeout 120s "$T/mnt" >/dev/null 2>&1 || fusermount3 -u "$T/mnt" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
if [[ -z $TAR ]]; then
	# The first N paths of /usr/include in name order (directories come
	# before what they hold).
	TAR=/usr/include
	(cd /usr && find include | LC_ALL=C sort | sed -n "1,${N}p") >"$T/list"
	tar -cf "$T/subset.tar" -C /usr --no-recursion -T "$T/list"
else
	tar -tf "$TAR" | sed -n "1,${N}p" >"$T/list"
	mkdir -p "$T/src"
	tar -xf "$TAR" -C "$T/src" --no-recursion -T "$T/list"
	tar -cf "$T/subset.tar" -C "$T/src" --no-recursion -T "$T/list"
fi
n=$(wc -l <"$T/list")
files=$(tar -tvf "$T/subset.tar" | grep -c '^-' || true)
printf 'bench-calls\n' >"$T/pass"
chmod 600 "$T/pass"

# Calls that touch no backing file: process, memory, time and thread
# calls. Everything else not on /dev/fuse counts.
NOT_BACKING='futex|madvise|mmap|munmap|mprotect|brk|getrandom|clock_gettime|clock_nanosleep|nanosleep|rt_sigprocmask|rt_sigaction|rt_sigreturn|sched_yield|getpid|gettid|set_robust_list|rseq|clone|clone3|exit|prctl|restart_syscall|poll|ppoll|epoll_wait|epoll_pwait|sendmsg|recvmsg|accept4|getuid|geteuid|getgid|getegid|setfsuid|setfsgid|membarrier|mlock|munlock'

count() { # trace file -> "syscall count" lines, busiest first
	awk -v skip="^($NOT_BACKING)\$" '
		/^[0-9]+ +<\.\.\./ { next }             # a resumed call: counted at its start
		match($0, /^[0-9]+ +[a-z_0-9]+\(/) {
			s = substr($0, RSTART, RLENGTH - 1); sub(/^[0-9]+ +/, "", s)
			if (s ~ skip || index($0, "</dev/fuse")) next
			# An O_PATH open of the /proc link of a descriptor opens nothing
			# on the backing filesystem: listed apart.
			if (s == "openat" && index($0, "\"/proc/self/fd/") && index($0, "O_PATH")) s = "openat-proc-O_PATH"
			c[s]++
		}
		END { for (s in c) print s, c[s] }' "$1" | sort -k2,2nr
}

run_mode() { # mode
	local mode=$1 opts=() pid
	[[ $mode == shared ]] && opts=(-o shared)
	rm -rf "$T/vault" "$T/mnt"
	mkdir -p "$T/mnt"
	"$L" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/vault" >/dev/null 2>&1
	"$L" mount --passfile "$T/pass" "${opts[@]}" "$T/vault" "$T/mnt"
	pid=$(daemon_pid lethefs "$T/mnt") || {
		echo "bench-calls: no daemon found for $T/mnt" >&2
		exit 1
	}
	strace -f -qq -yy -o "$T/$mode.trace" -p "$pid" &
	SPID=$!
	sleep 1 # strace attaches to every thread
	tar -xf "$T/subset.tar" -C "$T/mnt"
	sync -f "$T/mnt"
	sleep 0.5 # the kernel's background RELEASEs
	kill -INT "$SPID"
	wait "$SPID" 2>/dev/null || true
	SPID=
	"$L" umount --timeout 120s "$T/mnt" >/dev/null
	count "$T/$mode.trace" >"$T/$mode.count"
	if [[ -n ${BENCH_CALLS_KEEP:-} ]]; then
		mkdir -p "$BENCH_CALLS_KEEP"
		cp "$T/$mode.trace" "$BENCH_CALLS_KEEP/$mode.trace"
	fi
}

echo "$n entries ($files files) from $TAR; lethefs $("$L" --version 2>/dev/null | head -n1)"
for m in $MODES; do
	run_mode "$m"
done
# One table: syscall, then per mode calls and calls per entry.
header="syscall"
for m in $MODES; do header+=" | $m calls | per entry"; done
echo "$header"
awk -v n="$n" -v modes="$MODES" '
	BEGIN { nm = split(modes, M, " ") }
	{ mode = FILENAME; sub(/.*\//, "", mode); sub(/\.count$/, "", mode)
	  c[$1, mode] = $2; tot[mode] += $2; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
	END {
		for (i = 1; i <= k; i++) {
			line = order[i]
			for (j = 1; j <= nm; j++) line = line sprintf(" | %d | %.2f", c[order[i], M[j]], c[order[i], M[j]] / n)
			print line
		}
		line = "total"
		for (j = 1; j <= nm; j++) line = line sprintf(" | %d | %.2f", tot[M[j]], tot[M[j]] / n)
		print line
	}' $(for m in $MODES; do echo "$T/$m.count"; done)
