#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/bench-scale.sh: tree work at many files (issue 22). For each size, a
# fresh tree of SIZE files of 4 KiB (1,000 per directory, two levels of
# directories) on ext4 (a plain directory on the same disk), gocryptfs and
# lethefs (a fresh vault per size), caches dropped before every pass:
#   create (files/s), find, ls -lR, du, read-all (tar | cat, MB/s),
#   lethefs rotate --wait, lethefs fsck (offline), rm -rf (+ sync),
#   the daemon's RSS: fresh, after the stat passes, after drop_caches.
# Prints a markdown table, the lethefs/gocryptfs ratios and the growth per
# 10x files. See docs/PERFORMANCE.md. Timings are never asserted anywhere.
#
#   sudo bash scripts/bench-scale.sh                 # 10k and 100k (make bench-scale)
#   sudo bash scripts/bench-scale.sh 1000000         # by hand: ~1.5 h, ~15 GB free
#   sudo bash scripts/bench-scale.sh 10000 100000 1000000
#
# Environment:
#   BENCH_DIR    work dir on the disk to measure (default /var/tmp/lethefs-bench-scale)
#   BENCH_ONLY   subset of "ext4 gocryptfs lethefs" (default: all three)
#   LETHEFS      lethefs binary (default build/lethefs)
#   BENCH_SKIP   passes to leave out: "rotate fsck" (the slow ones at 100k),
#                "read" (read-all: about a minute per filesystem at 100k)
#   LETHEFS_MOUNT_OPTS  extra options of lethefs mount, e.g. "-o iattr"
# Needs root (drop_caches). Every mount it makes is unmounted on exit.
set -euo pipefail

# The report: one table per size, then ratios and growth.
report() { # RESULTS REV SIZES...
	python3 - "$@" <<'PY'
import sys, collections
res, rev, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
v = collections.defaultdict(dict)
for line in open(res):
    size, fs, key, val = line.rstrip("\n").split("\t")
    v[(int(size), fs)][key] = float(val) if val else None
fss = [f for f in ("ext4", "gocryptfs", "lethefs") if any((s, f) in v for s in sizes)]
def get(s, f, k):
    return v.get((s, f), {}).get(k)
def rate(s, f, k):
    x = get(s, f, k)
    if x is None or x <= 0:
        return None
    return s / x if k == "create" else s * 4096 / 1e6 / x
def fmt(x, d=1):
    return "—" if x is None else f"{x:,.{d}f}"
def mb(kb):
    return "—" if kb is None else f"{kb / 1024:,.1f}"
rows = [("create, files/s", lambda s, f: fmt(rate(s, f, "create"), 0)),
        ("find, s", lambda s, f: fmt(get(s, f, "find"), 2)),
        ("ls -lR, s", lambda s, f: fmt(get(s, f, "ls"), 2)),
        ("du, s", lambda s, f: fmt(get(s, f, "du"), 2)),
        ("read all (tar), MB/s", lambda s, f: fmt(rate(s, f, "read"))),
        ("rm -rf, s", lambda s, f: fmt(get(s, f, "rm"), 2)),
        ("rm -rf until the daemon freed all, s", lambda s, f: fmt(get(s, f, "rm_settled"), 2)),
        ("rotate --wait, s", lambda s, f: fmt(get(s, f, "rotate"), 2)),
        ("fsck, s", lambda s, f: fmt(get(s, f, "fsck"), 2)),
        ("RSS fresh, MB", lambda s, f: mb(get(s, f, "rss_fresh"))),
        ("RSS after the stat passes, MB", lambda s, f: mb(get(s, f, "rss_stat"))),
        ("RSS after drop_caches, MB", lambda s, f: mb(get(s, f, "rss_dropped")))]
print(f"lethefs {rev}; caches dropped before each pass; 4 KiB files, 1,000 per directory\n")
for s in sizes:
    print(f"| {s:,} files | " + " | ".join(fss) + " |")
    print("|---|" + "---|" * len(fss))
    for name, fn in rows:
        print(f"| {name} | " + " | ".join(fn(s, f) for f in fss) + " |")
    fails = [f"{f} {k}" for f in fss for k in v.get((s, f), {}) if k.endswith("_failed")]
    if fails:
        print("\nFAILED passes (figures above include the failure): " + ", ".join(fails))
    print()
keys = [("create", "create"), ("find", "find"), ("ls", "ls -lR"), ("du", "du"),
        ("read", "read all"), ("rm", "rm -rf"), ("rm_settled", "rm -rf, daemon done")]
if "lethefs" in fss and "gocryptfs" in fss:
    print("| lethefs / gocryptfs (time; < 1 is faster) | " + " | ".join(f"{s:,}" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for k, name in keys:
        cells = []
        for s in sizes:
            a, b = get(s, "lethefs", k), get(s, "gocryptfs", k)
            cells.append("—" if not a or not b else f"{a / b:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for s in sizes:
        fresh, dropped = get(s, "lethefs", "rss_fresh"), get(s, "lethefs", "rss_dropped")
        cells.append("—" if not fresh or not dropped else
                     f"{dropped / 1024:.1f} MB (bound {(2 * fresh + 10240) / 1024:.1f})")
    print("| lethefs RSS after drop_caches | " + " | ".join(cells) + " |")
    print()
pairs = [(a, b) for a, b in zip(sizes, sizes[1:]) if b == 10 * a]
if pairs:
    print("Growth of the time per 10x files (10 = linear):\n")
    print("| pass | " + " | ".join(f"{f} {a // 1000}k→{b // 1000}k" for a, b in pairs for f in fss) + " |")
    print("|---|" + "---|" * (len(pairs) * len(fss)))
    for k, name in keys + [("rotate", "rotate"), ("fsck", "fsck")]:
        cells = []
        for a, b in pairs:
            for f in fss:
                x, y = get(a, f, k), get(b, f, k)
                cells.append("—" if not x or not y else f"{y / x:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
PY
}

# `bench-scale.sh --report RESULTS.tsv REV SIZE...`: the tables of an earlier run.
if [[ ${1:-} == --report ]]; then
	shift
	report "$@"
	exit 0
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/bench-common.sh
. "$REPO/scripts/bench-common.sh"
BENCH_DIR=${BENCH_DIR:-/var/tmp/lethefs-bench-scale}
BENCH_ONLY=${BENCH_ONLY:-ext4 gocryptfs lethefs}
LETHEFS=${LETHEFS:-$REPO/build/lethefs}
BENCH_SKIP=${BENCH_SKIP:-}
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(10000 100000)
export LC_ALL=C

log() { printf '[bench-scale %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
[[ $(id -u) == 0 ]] || die "needs root (drop_caches, FUSE mounts)"
[[ -x $LETHEFS ]] || die "no lethefs binary at $LETHEFS (run make)"
for s in "${SIZES[@]}"; do
	[[ $s =~ ^[0-9]+$ && $s -ge 1000 ]] || die "size $s: a number of files, at least 1000"
done
if [[ $BENCH_ONLY == *gocryptfs* ]] && ! command -v gocryptfs >/dev/null; then
	apt-get install -y gocryptfs >/dev/null || die "gocryptfs missing and not installable"
fi

mkdir -p "$BENCH_DIR"
BIN="$BENCH_DIR/lethefs" # a copy, so a rebuild during the run changes nothing
cp "$LETHEFS" "$BIN"
REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
PASSFILE="$BENCH_DIR/passphrase"
printf 'lethefs-bench-scale\n' >"$PASSFILE" # throwaway vaults only
RES="$BENCH_DIR/results.tsv"
: >"$RES"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; } # size fs key value

MOUNTED=()
unmount() {
	local mnt=$1 i
	for i in 1 2 3 4 5; do
		mountpoint -q "$mnt" 2>/dev/null || return 0
		fusermount3 -u "$mnt" 2>/dev/null || true
		sleep "$i"
	done
	log "warning: $mnt busy, unmounting lazily"
	fusermount3 -uz "$mnt" 2>/dev/null || true
}
cleanup() {
	local m
	for m in "${MOUNTED[@]}"; do unmount "$m"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo ""; }

# Creates SIZE files of 4 KiB under DIR/tree: DIR/tree/tI/dJ/fK, 1,000 files
# per leaf directory and up to 100 leaves per top directory. One process,
# no fork per file; each file gets distinct content.
make_tree() {
	python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1] + "/tree", int(sys.argv[2])
block = os.urandom(4096)
os.mkdir(root)
for i in range(n):
    leaf, k = divmod(i, 1000)
    top, mid = divmod(leaf, 100)
    d = f"{root}/t{top:02d}/d{mid:03d}"
    if k == 0:
        os.makedirs(d, exist_ok=True)
    fd = os.open(f"{d}/f{k:04d}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, i.to_bytes(8, "little") + block[8:])
    os.close(fd)
PY
}

# Runs one timed pass: drop caches, run "$@", record KEY = seconds.
timed() {
	local size=$1 fs=$2 key=$3 t
	shift 3
	drop_caches
	t=$(now)
	if ! "$@"; then
		log "$fs $size: $key failed"
		record "$size" "$fs" "${key}_failed" 1
	fi
	record "$size" "$fs" "$key" "$(since "$t")"
	T_RM_END=$(now)
}
# Unmounts a lethefs mount and waits for its daemon. A copy of the mount in
# another process's mount namespace (unshare, containers) keeps the daemon
# serving after the unmount here: it is then stopped (fsck needs the vault).
stop_lethefs() {
	local mnt=$1 pid=$2 i
	unmount "$mnt"
	[[ -n $pid ]] || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	log "lethefs daemon $pid still serving another mount namespace: stopping it"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
}
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
get_last() { awk -F'\t' -v k="$1" '$3 == k { v = $4 } END { print v }' "$RES"; }

run_one() {
	local size=$1 fs=$2
	local W="$BENCH_DIR/$fs-$size" back mnt dir pid="" t
	back="$W/back"
	mnt="$W/mnt"
	rm -rf "$W"
	mkdir -p "$back" "$mnt"
	case $fs in
	ext4) dir=$back ;;
	gocryptfs)
		dir=$mnt
		gocryptfs -init -q -scryptn 10 -passfile "$PASSFILE" "$back" >/dev/null
		gocryptfs -q -passfile "$PASSFILE" "$back" "$mnt"
		MOUNTED+=("$mnt")
		pid=$(daemon_pid gocryptfs "$mnt") || pid=""
		;;
	lethefs)
		dir=$mnt
		"$BIN" init --passfile "$PASSFILE" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$back" >/dev/null
		"$BIN" mount --passfile "$PASSFILE" ${LETHEFS_MOUNT_OPTS:-} "$back" "$mnt"
		MOUNTED+=("$mnt")
		pid=$(daemon_pid lethefs "$mnt") || pid=""
		;;
	esac
	[[ $fs == ext4 || -n $pid ]] || log "$fs: daemon PID not found: no RSS figures"
	sleep 1
	[[ -z $pid ]] || record "$size" "$fs" rss_fresh "$(rss_kb "$pid")"

	log "$fs $size: create"
	drop_caches
	t=$(now)
	make_tree "$dir" "$size"
	sync
	record "$size" "$fs" create "$(since "$t")"
	timed "$size" "$fs" find sh -c "find '$dir/tree' >/dev/null"
	timed "$size" "$fs" ls sh -c "ls -lR '$dir/tree' >/dev/null"
	timed "$size" "$fs" du sh -c "du -s '$dir/tree' >/dev/null"
	[[ -z $pid ]] || record "$size" "$fs" rss_stat "$(rss_kb "$pid")"
	if [[ -n $pid ]]; then
		drop_caches
		sleep 5 # the kernel's FORGETs reach the daemon
		record "$size" "$fs" rss_dropped "$(rss_kb "$pid")"
	fi
	# GNU tar does not read files when it writes to /dev/null itself.
	if [[ " $BENCH_SKIP " != *" read "* ]]; then
		log "$fs $size: read-all"
		timed "$size" "$fs" read sh -c "tar -C '$dir' -cf - tree | cat >/dev/null"
	fi
	if [[ $fs == lethefs && " $BENCH_SKIP " != *" rotate "* ]]; then
		log "$fs $size: rotate"
		timed "$size" "$fs" rotate "$BIN" rotate --wait "$mnt" >/dev/null
	fi
	if [[ $fs == lethefs && " $BENCH_SKIP " != *" fsck "* ]]; then
		log "$fs $size: fsck"
		stop_lethefs "$mnt" "$pid"
		timed "$size" "$fs" fsck sh -c "'$BIN' fsck --passfile '$PASSFILE' '$back' >/dev/null"
		"$BIN" mount --passfile "$PASSFILE" ${LETHEFS_MOUNT_OPTS:-} "$back" "$mnt"
		pid=$(daemon_pid lethefs "$mnt") || pid=""
	fi
	log "$fs $size: rm -rf"
	local fds_before=0
	if [[ -n $pid ]]; then
		drop_caches
		sleep 2
		fds_before=$(fd_count "$pid")
	fi
	timed "$size" "$fs" rm sh -c "rm -rf '$dir/tree' && sync"
	# A FUSE daemon frees a removed file's blocks when the kernel forgets
	# it, after rm returned: rm_settled also waits until the daemon holds
	# no more descriptors than before the rm (lethefs closes them on
	# threads, fs/closer.h; gocryptfs keeps none).
	if [[ -n $pid ]]; then
		local i=0
		while ((i++ < 3000)) && (($(fd_count "$pid") > fds_before + 8)); do sleep 0.1; done
		record "$size" "$fs" rm_settled "$(awk -v r="$(get_last rm)" -v t="$(since "$T_RM_END")" 'BEGIN { printf "%.2f", r + t }')"
	fi
	if [[ $fs == lethefs ]]; then
		stop_lethefs "$mnt" "$pid"
	elif [[ $fs != ext4 ]]; then
		unmount "$mnt"
	fi
	rm -rf "$W"
}

for size in "${SIZES[@]}"; do
	for fs in ext4 gocryptfs lethefs; do
		[[ " $BENCH_ONLY " == *" $fs "* ]] || continue
		run_one "$size" "$fs"
	done
done

report "$RES" "$REV" "${SIZES[@]}"
