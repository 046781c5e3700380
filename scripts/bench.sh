#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/bench.sh: benchmark lethefs side by side with gocryptfs, securefs,
# libfuse's unencrypted passthrough_ll and the plain backing directory, all on
# the same backing disk, in one run. See docs/PERFORMANCE.md.
#
#   sudo bash scripts/bench.sh                 # full run (10-20 minutes)
#   sudo BENCH_QUICK=1 bash scripts/bench.sh   # smoke test (about a minute)
#   sudo bash scripts/bench.sh clients         # PostgreSQL, SQLite, fio, git (bench-clients.sh)
#   sudo bash scripts/bench.sh gluster         # on GlusterFS beside plain GlusterFS (bench-gluster.sh)
#
# Environment:
#   BENCH_DIR       work dir on the disk to measure (default /var/tmp/lethefs-bench)
#   BENCH_SIZE_MB   sequential file size in MiB (default 1024; 64 with BENCH_QUICK)
#   BENCH_QUICK=1   small sizes and a small subset of the source tree
#   BENCH_ONLY      space-separated subset of: plain passthrough passthrough-hl
#                   gocryptfs securefs lethefs lethefs-aes (default: all;
#                   lethefs-aes only where /proc/cpuinfo shows AES-NI).
#                   passthrough is libfuse's passthrough_ll (one O_PATH fd per
#                   inode, like lethefs); passthrough-hl its path-based
#                   high-level passthrough, which needs no descriptor per inode
#   BENCH_VERIFY    filesystems whose extracted tree is compared with the
#                   archive by `tar -d` (outside the timing); "all" or a list
#                   (default "lethefs lethefs-aes")
#   BENCH_MULTI=0   leave out the several-clients runs (fio 1 and 4 jobs,
#                   two tar extracts at once)
#   BENCH_FIO_SIZE, BENCH_FIO_RUNTIME, BENCH_TREE_FILES, BENCH_OP_TIMEOUT
#   LETHEFS         lethefs binary (default build/lethefs, built if missing)
#
# Needs root for drop_caches and to install missing Debian packages
# (gocryptfs securefs fio linux-source-6.1 xz-utils fuse3 libfuse3-dev ...).
# Every mount it makes is unmounted on exit, error or signal.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/bench-common.sh
. "$REPO/scripts/bench-common.sh"
SELF="$REPO/scripts/bench.sh"

# `bench.sh clients`: PostgreSQL, SQLite, fio and git on ext4, gocryptfs and
# lethefs (scripts/bench-clients.sh).
if [[ ${1:-} == clients ]]; then
	shift
	exec bash "$REPO/scripts/bench-clients.sh" "$@"
fi

# `bench.sh gluster`: lethefs -o shared on a GlusterFS volume beside the
# volume itself (scripts/bench-gluster.sh).
if [[ ${1:-} == gluster ]]; then
	shift
	exec bash "$REPO/scripts/bench-gluster.sh" "$@"
fi

BENCH_DIR=${BENCH_DIR:-/var/tmp/lethefs-bench}
BENCH_QUICK=${BENCH_QUICK:-0}
if [[ $BENCH_QUICK == 1 ]]; then
	BENCH_SIZE_MB=${BENCH_SIZE_MB:-64}
	BENCH_FIO_SIZE=${BENCH_FIO_SIZE:-32M}
	BENCH_FIO_RUNTIME=${BENCH_FIO_RUNTIME:-3}
	BENCH_TREE_FILES=${BENCH_TREE_FILES:-3000}
else
	BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
	BENCH_FIO_SIZE=${BENCH_FIO_SIZE:-256M}
	BENCH_FIO_RUNTIME=${BENCH_FIO_RUNTIME:-20}
	# The issue's workload: the first 15,000 entries (about 200 MB). The
	# whole tree (0) holds 83,731 entries, more inodes than passthrough_ll
	# can keep descriptors for where RLIMIT_NOFILE cannot be raised.
	BENCH_TREE_FILES=${BENCH_TREE_FILES:-15000} # 0 = the whole tree
fi
BENCH_ONLY=${BENCH_ONLY:-}
BENCH_VERIFY=${BENCH_VERIFY:-lethefs lethefs-aes}
BENCH_OP_TIMEOUT=${BENCH_OP_TIMEOUT:-1800}
export BENCH_DIR BENCH_QUICK BENCH_SIZE_MB BENCH_FIO_SIZE BENCH_FIO_RUNTIME \
	BENCH_TREE_FILES BENCH_ONLY BENCH_VERIFY BENCH_OP_TIMEOUT
export LC_ALL=C

ALL_FS="plain passthrough passthrough-hl gocryptfs securefs lethefs lethefs-aes"
BIN="$BENCH_DIR/bin"
RES="$BENCH_DIR/results"
PASSFILE="$BENCH_DIR/passphrase"
PASSWORD="lethefs-bench-passphrase" # throwaway vaults only
SRC_XZ=/usr/src/linux-source-6.1.tar.xz
FULL_TAR="$BENCH_DIR/linux-source-6.1.tar"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

DROP_WARNED=0
drop_caches() {
	sync
	if [[ -w /proc/sys/vm/drop_caches ]]; then
		echo 3 >/proc/sys/vm/drop_caches
	elif [[ $DROP_WARNED == 0 ]]; then
		DROP_WARNED=1
		log "warning: cannot write /proc/sys/vm/drop_caches (not root): reads may hit the cache"
	fi
}

# Unmount MNT if mounted; lazily as a last resort so cleanup never hangs.
unmount() {
	local mnt=$1 i
	mountpoint -q "$mnt" 2>/dev/null || return 0
	for i in 1 2 3 4 5; do
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || true
		mountpoint -q "$mnt" 2>/dev/null || return 0
		sleep "$i"
	done
	log "warning: $mnt busy, unmounting lazily"
	fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
}

cleanup_all_mounts() {
	local m
	for m in "$BENCH_DIR"/fs-*/mnt; do
		if [[ -d $m ]]; then unmount "$m"; fi
	done
	return 0
}


vm_kb() { # PID FIELD -> kB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# One filesystem's workloads (run_one, multi_clients) and the final tables
# (bench_report): sourced helpers.
# shellcheck source=scripts/bench-one-fs.sh
. "$REPO/scripts/bench-one-fs.sh"
# shellcheck source=scripts/bench-report.sh
. "$REPO/scripts/bench-report.sh"

if [[ ${1:-} == __one ]]; then
	TREE_TAR=$(cat "$RES/tree.tar")
	run_one "$2"
	exit 0
fi

# ---------------------------------------------------------------------------
# Parent: prerequisites, then one child per filesystem, then the tables.
# ---------------------------------------------------------------------------
# The child of the moment runs in the background so that a signal reaches
# this shell at once: it then stops the child's process tree (by PID), and
# the EXIT trap unmounts whatever is still mounted.
CHILD=""
kill_tree() { # PID: that process first (so it starts nothing new), then its children
	local p kids
	kids=$(pgrep -P "$1" 2>/dev/null || true)
	kill -TERM "$1" 2>/dev/null || true
	for p in $kids; do
		kill_tree "$p"
	done
}
on_signal() {
	trap - INT TERM
	log "interrupted: stopping and unmounting"
	if [[ -n $CHILD ]]; then
		kill_tree "$CHILD"
		wait "$CHILD" 2>/dev/null || true
	fi
	exit "$1"
}
trap cleanup_all_mounts EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# Filesystems selected.
HAVE_AES=0
if grep -q aes /proc/cpuinfo; then HAVE_AES=1; fi
FS_LIST=()
for fs in $ALL_FS; do
	if [[ -n $BENCH_ONLY ]]; then
		[[ " $BENCH_ONLY " == *" $fs "* ]] || continue
	elif [[ $fs == lethefs-aes && $HAVE_AES == 0 ]]; then
		continue
	fi
	FS_LIST+=("$fs")
done
for fs in $BENCH_ONLY; do
	[[ " $ALL_FS " == *" $fs "* ]] || die "BENCH_ONLY: unknown filesystem '$fs' (known: $ALL_FS)"
done
((${#FS_LIST[@]})) || die "no filesystem selected"
sel() { [[ " ${FS_LIST[*]} " == *" $1 "* ]]; }

# Debian packages.
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pkgs=(fio linux-source-6.1 xz-utils fuse3 util-linux coreutils tar)
sel gocryptfs && pkgs+=(gocryptfs)
sel securefs && pkgs+=(securefs)
if sel passthrough || sel passthrough-hl; then pkgs+=(libfuse3-dev pkg-config gcc); fi
if command -v dpkg-query >/dev/null; then
	for p in "${pkgs[@]}"; do
		have_pkg "$p" || need+=("$p")
	done
fi
if ((${#need[@]})); then
	[[ $(id -u) == 0 ]] || die "missing Debian packages: ${need[*]} (run as root to install them)"
	log "installing Debian packages: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[[ $(id -u) == 0 ]] || log "warning: not root: caches cannot be dropped, figures will be optimistic"

mkdir -p "$BIN" "$RES"
rm -f "$RES"/*.tsv "$RES"/*.errors
cleanup_all_mounts
printf '%s\n' "$PASSWORD" >"$PASSFILE"
chmod 600 "$PASSFILE"

# lethefs: a private copy of the binary, so a rebuild during the run by
# someone else does not change what is measured.
LETHEFS_REV="n/a"
if sel lethefs || sel lethefs-aes; then
	LETHEFS=${LETHEFS:-$REPO/build/lethefs}
	if [[ ! -x $LETHEFS ]]; then
		log "building lethefs"
		make -C "$REPO" >/dev/null
	fi
	[[ -x $LETHEFS ]] || die "no lethefs binary at $LETHEFS"
	cp "$LETHEFS" "$BIN/lethefs"
	LETHEFS_REV=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
fi

# libfuse's passthrough examples, compiled here at run time.
if sel passthrough || sel passthrough-hl; then
	ex=/usr/share/doc/libfuse3-dev/examples
	pt="$BENCH_DIR/passthrough-src"
	mkdir -p "$pt"
	for f in passthrough_ll.c passthrough.c passthrough_helpers.h; do
		if [[ -f $ex/$f ]]; then
			cp "$ex/$f" "$pt/$f"
		elif [[ -f $ex/$f.gz ]]; then
			gzip -dc "$ex/$f.gz" >"$pt/$f"
		else
			die "libfuse example $ex/$f(.gz) not found (package libfuse3-dev)"
		fi
	done
	read -r -a fuse_flags <<<"$(pkg-config --cflags --libs fuse3)"
	# The HAVE_* macros are what libfuse's own build defines on Linux/glibc;
	# without them passthrough.c answers utimens with ENOSYS.
	have=(-DHAVE_UTIMENSAT -DHAVE_POSIX_FALLOCATE -DHAVE_FALLOCATE -DHAVE_SETXATTR
		-DHAVE_COPY_FILE_RANGE)
	for f in passthrough_ll passthrough; do
		gcc -O2 -Wall "${have[@]}" -o "$BIN/$f" "$pt/$f.c" "${fuse_flags[@]}" ||
			die "could not compile $f.c"
	done
fi

# The source tree: decompressed once, outside every timing.
[[ -f $SRC_XZ ]] || die "$SRC_XZ not found (package linux-source-6.1)"
if [[ ! -f $FULL_TAR || $SRC_XZ -nt $FULL_TAR ]]; then
	log "decompressing $SRC_XZ (once)"
	xz -dc -T0 "$SRC_XZ" >"$FULL_TAR.tmp"
	mv "$FULL_TAR.tmp" "$FULL_TAR"
fi
if [[ ! -f $FULL_TAR.list || $FULL_TAR -nt $FULL_TAR.list ]]; then
	tar -tf "$FULL_TAR" >"$FULL_TAR.list.tmp"
	mv "$FULL_TAR.list.tmp" "$FULL_TAR.list"
fi
TREE_TAR=$FULL_TAR
if ((BENCH_TREE_FILES > 0)); then
	TREE_TAR="$BENCH_DIR/tree-$BENCH_TREE_FILES.tar"
	if [[ ! -f $TREE_TAR || $FULL_TAR -nt $TREE_TAR ]]; then
		log "making a $BENCH_TREE_FILES-entry subset of the tree"
		sub="$BENCH_DIR/subset"
		rm -rf "$sub"
		mkdir -p "$sub"
		awk -v n="$BENCH_TREE_FILES" 'NR <= n' "$FULL_TAR.list" >"$BENCH_DIR/subset.list"
		tar -xf "$FULL_TAR" -C "$sub" --no-recursion -T "$BENCH_DIR/subset.list"
		tar -cf "$TREE_TAR.tmp" -C "$sub" "$(awk 'NR == 1 { sub("/.*", ""); print }' "$FULL_TAR.list")"
		mv "$TREE_TAR.tmp" "$TREE_TAR"
		rm -rf "$sub" "$BENCH_DIR/subset.list"
	fi
	tar -tf "$TREE_TAR" >"$RES/tree.list"
else
	cp "$FULL_TAR.list" "$RES/tree.list"
fi
awk 'NR == 1 { sub("/.*", ""); print }' "$RES/tree.list" >"$RES/tree.top"
wc -l <"$RES/tree.list" | tr -d ' ' >"$RES/tree.count"
echo "$TREE_TAR" >"$RES/tree.tar"
TREE_MB=$(du -sm "$TREE_TAR" | cut -f1)

# The machine.
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
read -r BACK_FS BACK_DEV < <(findmnt -n -o FSTYPE,SOURCE -T "$BENCH_DIR")
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
echo "== lethefs benchmark $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:   $(nproc) CPUs, $CPU, $MEM RAM, AES-NI: $([[ $HAVE_AES == 1 ]] && echo yes || echo no)"
echo "kernel:    $(uname -r)"
echo "backing:   $BENCH_DIR on $BACK_FS ($BACK_DEV)"
echo "versions:  lethefs $LETHEFS_REV; $(gocryptfs -version 2>/dev/null | cut -d';' -f1 || true);" \
	"securefs $(dpkg-query -W -f='${Version}' securefs 2>/dev/null || true);" \
	"libfuse $(pkg-config --modversion fuse3 2>/dev/null || true)"
echo "workload:  seq ${BENCH_SIZE_MB} MiB; fio 4k psync ${BENCH_FIO_SIZE} ${BENCH_FIO_RUNTIME}s;" \
	"tree $(cat "$RES/tree.count") entries, ${TREE_MB} MB tar$([[ $BENCH_QUICK == 1 ]] && echo ' (QUICK)')"
echo "selected:  ${FS_LIST[*]}"
echo

FAILED=()
for fs in "${FS_LIST[@]}"; do
	bash "$SELF" __one "$fs" &
	CHILD=$!
	rc=0
	wait "$CHILD" || rc=$?
	CHILD=""
	if ((rc != 0)); then
		FAILED+=("$fs")
		log "$fs: FAILED (continuing with the others)"
		cleanup_all_mounts
		rm -rf "$BENCH_DIR/fs-$fs"
	fi
done

bench_report
