#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/bench-gluster.sh: lethefs on GlusterFS beside plain GlusterFS, on
# the same volume and the same client mount (docs/PERFORMANCE.md, "On a
# cluster filesystem"; docs/SHARED.md). Starts its own engine with
# tests/integration/gluster.bash: glusterd with its state in a temporary
# directory, a replica-2 volume on two brick directories of this machine,
# one "host" (a mount namespace with its own /run/lethefs) whose GlusterFS
# client mount is configured as docs/SHARED.md says a shared vault needs.
# lethefs is mounted there with -o shared, as a cluster would run it.
#
#   sudo bash scripts/bench-gluster.sh          # or: make bench-gluster
#
# Workloads, each timed on plain GlusterFS (a directory of the client
# mount) and on lethefs (a vault in the same mount):
#   seq-write  dd of BENCH_SIZE_MB MiB in 1 MiB blocks, conv=fsync
#   seq-read   the same file back after dropping caches
#   extract    tar -x of the first BENCH_TREE_FILES entries of the Linux
#              source tree (linux-source-6.1)
#   ls-lR      ls -lR of that tree after dropping caches
# Each workload runs BENCH_RUNS times (alternating plain and lethefs);
# the ratios lethefs/plain (throughput) and plain/lethefs (speed of the
# tree operations: time plain / time lethefs) are printed per run and for
# the medians, against the targets (>= 0.8 sequential, >= 0.6 tree).
#
# Environment:
#   BENCH_DIR         cache of the source subset (default /var/tmp/lethefs-bench-gluster)
#   BENCH_SIZE_MB     sequential size (default 256)
#   BENCH_TREE_FILES  tree entries (default 2000)
#   BENCH_RUNS        runs of each workload (default 2)
#   LETHEFS_GLUSTER_TAG  names the volume and state directory (default lethefs)
#   LETHEFS           lethefs binary (default build/lethefs)
# Needs root, glusterfs-server and glusterfs-client (scripts/install-deps.sh
# test), and no other glusterd running (it takes port 24007).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/lethefs-bench-gluster}
BENCH_SIZE_MB=${BENCH_SIZE_MB:-256}
BENCH_TREE_FILES=${BENCH_TREE_FILES:-2000}
BENCH_RUNS=${BENCH_RUNS:-2}
LETHEFS=${LETHEFS:-$REPO/build/lethefs}
SRC_XZ=/usr/src/linux-source-6.1.tar.xz
export LC_ALL=C

log() { printf '[bench-gluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (glusterd, mounts, drop_caches)"
[[ -x $LETHEFS ]] || die "no lethefs binary at $LETHEFS (make)"
[[ -f $SRC_XZ ]] || die "$SRC_XZ missing (apt-get install linux-source-6.1)"
# shellcheck source=tests/integration/gluster.bash
source "$REPO/tests/integration/gluster.bash"
why=$(gluster_unavailable)
[[ -z $why ]] || die "GlusterFS cannot run here: $why"

# The tree: the first BENCH_TREE_FILES entries of the source, made once.
mkdir -p "$BENCH_DIR"
TREE_TAR=$BENCH_DIR/tree-$BENCH_TREE_FILES.tar
if [[ ! -f $TREE_TAR ]]; then
	log "making a $BENCH_TREE_FILES-entry subset of the Linux source"
	rm -rf "$BENCH_DIR/src"
	mkdir -p "$BENCH_DIR/src"
	xz -dc "$SRC_XZ" | tar -t | head -n "$BENCH_TREE_FILES" >"$BENCH_DIR/subset.list" || true
	xz -dc "$SRC_XZ" | tar -x -C "$BENCH_DIR/src" --no-recursion -T "$BENCH_DIR/subset.list"
	tar -cf "$TREE_TAR.tmp" -C "$BENCH_DIR/src" --no-recursion -T "$BENCH_DIR/subset.list"
	mv "$TREE_TAR.tmp" "$TREE_TAR"
	rm -rf "$BENCH_DIR/src"
fi

cleanup() {
	set +e
	if [[ -n ${G:-} && -f $G/host-hostA.pid ]]; then
		on_host hostA sh -c "mountpoint -q $G/lethefs && { fusermount3 -u $G/lethefs || umount -l $G/lethefs; }"
	fi
	gluster_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gluster_start || die "cannot start the GlusterFS volume"
host_start hostA || die "cannot mount the volume"
M=$G/mhostA
mkdir -p "$G/lethefs"
printf 'lethefs-bench-passphrase\n' >"$G/pass"
chmod 600 "$G/pass"
on_host hostA "$LETHEFS" init --passfile "$G/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
	"$M/vault" >/dev/null 2>&1 || die "init failed"
on_host hostA "$LETHEFS" mount -o shared --passfile "$G/pass" "$M/vault" "$G/lethefs" ||
	die "mount -o shared failed"
on_host hostA mkdir "$M/plain"

drop() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
now() { date +%s.%N; }
# T CMD...: runs CMD on the host, prints its seconds.
T() {
	local a b
	a=$(now)
	on_host hostA "$@" >/dev/null
	b=$(now)
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b - a }'
}

# One run of every workload on directory $1; prints "write read extract lslR" seconds.
run_on() {
	local d=$1 w r x l
	drop
	w=$(T dd if=/dev/zero of="$d/seq" bs=1M count="$BENCH_SIZE_MB" conv=fsync status=none)
	drop
	r=$(T dd if="$d/seq" of=/dev/null bs=1M status=none)
	on_host hostA rm -f "$d/seq"
	on_host hostA mkdir "$d/tree"
	drop
	x=$(T sh -c "tar -xf $TREE_TAR -C $d/tree && sync")
	drop
	l=$(T ls -lR "$d/tree")
	on_host hostA rm -rf "$d/tree"
	echo "$w $r $x $l"
}

RES=$BENCH_DIR/results.txt
: >"$RES"
log "volume $GVOL, $BENCH_SIZE_MB MiB sequential, $BENCH_TREE_FILES-entry tree, $BENCH_RUNS runs"
for run in $(seq "$BENCH_RUNS"); do
	p=$(run_on "$M/plain")
	l=$(run_on "$G/lethefs")
	log "run $run: plain $p; lethefs $l"
	echo "$run $p $l" >>"$RES"
done

# Ratios: throughput lethefs/plain = time plain / time lethefs for all four.
awk -v mb="$BENCH_SIZE_MB" '
function r(p, l) { return l > 0 ? p / l : 0 }
{
	printf "run %d: seq-write %.1f / %.1f MB/s (%.2fx), seq-read %.1f / %.1f MB/s (%.2fx), ", \
		$1, mb * 1.048576 / $2, mb * 1.048576 / $6, r($2, $6), mb * 1.048576 / $3, \
		mb * 1.048576 / $7, r($3, $7)
	printf "extract %.1f / %.1f s (%.2fx), ls -lR %.2f / %.2f s (%.2fx)\n", $4, $8, r($4, $8), \
		$5, $9, r($5, $9)
	w[NR] = r($2, $6); rd[NR] = r($3, $7); x[NR] = r($4, $8); l[NR] = r($5, $9)
}
function med(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function verdict(v, target) { return v >= target ? "(target " target ": met)" : "(target " target ": missed)" }
END {
	mw = med(w, NR); mr = med(rd, NR); mx = med(x, NR); ml = med(l, NR)
	printf "median (lethefs speed / plain GlusterFS): seq-write %.2fx %s, seq-read %.2fx %s, extract %.2fx %s, ls -lR %.2fx %s\n", \
		mw, verdict(mw, 0.8), mr, verdict(mr, 0.8), mx, verdict(mx, 0.6), ml, verdict(ml, 0.6)
}' "$RES" | tee "$BENCH_DIR/ratios.txt"
