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

# ---------------------------------------------------------------------------
# One filesystem, run as a child process (`bench.sh __one FS`) so that errexit
# works everywhere and a failing filesystem does not stop the others.
# Writes "key value" lines to $RES/FS.tsv and error text to $RES/FS.errors.
# ---------------------------------------------------------------------------
run_one() {
	local fs=$1
	local W="$BENCH_DIR/fs-$fs" back mnt dir comm="" pid="" out
	back="$W/back"
	mnt="$W/mnt"
	dir=$mnt # where the benchmark's files go
	local RESF="$RES/$fs.tsv" ERRF="$RES/$fs.errors"
	: >"$RESF"
	: >"$ERRF"
	record() { echo "$1 $2" >>"$RESF"; }
	bad() { record "${1}_bad" 1; } # a figure measured while errors happened
	err() {
		echo "$*" >>"$ERRF"
		log "$fs: $*"
	}
	T() { timeout -k 10 "$BENCH_OP_TIMEOUT" "$@"; }
	summarize() { # stderr file: count of each distinct error message
		echo "    by message:" >>"$ERRF"
		sed -E "s/'[^']*'/'...'/g; s/^(tar|rm|ls|find): [^:']+: /\1: /" "$1" |
			sort | uniq -c | sort -rn | head -n 8 |
			sed 's/^/      /' >>"$ERRF"
	}

	# lethefs only: its FUSE request counters (status' fuse_requests) as
	# "op N" lines, for requests per entry of a workload.
	requests() {
		[[ $comm == lethefs ]] || return 0
		"$BIN/lethefs" status --json "$mnt" 2>/dev/null | python3 -c '
import json, sys
for k, v in json.load(sys.stdin).get("fuse_requests", {}).items():
    print(k, v)' || true
	}
	per_entry() { # before after entries key: records key (all requests per
		# entry) and key_ops (the busiest operations per entry)
		[[ -s $1 && -s $2 ]] || return 0
		local ops
		record "$4" "$(awk -v n="$3" 'NR == FNR { b[$1] = $2; next } { t += $2 - b[$1] }
			END { printf "%.2f", t / n }' "$1" "$2")"
		ops=$(awk -v n="$3" 'NR == FNR { b[$1] = $2; next }
			$2 - b[$1] > 0 { printf "%s %.2f\n", $1, ($2 - b[$1]) / n }' "$1" "$2" |
			sort -k2,2 -rn | head -n 8 | awk '{ printf "%s%s %s", (NR > 1 ? "," : ""), $1, $2 }')
		record "${4}_ops" "${ops// /=}"
	}

	CHILD_MNT=$mnt
	trap 'unmount "$CHILD_MNT"' EXIT
	unmount "$mnt"
	rm -rf "$W"
	mkdir -p "$back" "$mnt"

	log "$fs: setting up"
	case $fs in
	plain)
		dir=$back
		;;
	passthrough)
		comm=passthrough_ll
		# passthrough_ll keeps an O_PATH descriptor open for every inode the
		# kernel knows, so a source tree needs far more than the usual
		# RLIMIT_NOFILE: raise it for this daemon (as far as allowed).
		local nofile
		nofile=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
		if (($(cat "$RES/tree.count") + 1000 > $(ulimit -Hn))) &&
			! (ulimit -Hn "$nofile") 2>/dev/null; then
			err "passthrough_ll holds a descriptor per inode: the tree's $(cat "$RES/tree.count") entries exceed the open-file limit of $(ulimit -Hn), which cannot be raised here (no CAP_SYS_RESOURCE); its tree figures will fail (use BENCH_TREE_FILES)"
		fi
		(
			ulimit -Hn "$nofile" 2>/dev/null || true
			ulimit -Sn "$(ulimit -Hn)"
			exec "$BIN/passthrough_ll" -o source="$back" "$mnt"
		) >"$W/mount.log" 2>&1 || die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	passthrough-hl)
		# libfuse's high-level, path-based example: no descriptor per inode,
		# but it mirrors / and cannot be pointed at a source directory.
		comm=passthrough
		dir=$mnt$back
		"$BIN/passthrough" "$mnt" >"$W/mount.log" 2>&1 ||
			die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	gocryptfs)
		comm=gocryptfs
		gocryptfs -init -q -scryptn 10 -passfile "$PASSFILE" "$back" >"$W/init.log" 2>&1 ||
			die "$fs: init failed: $(cat "$W/init.log")"
		gocryptfs -q -passfile "$PASSFILE" "$back" "$mnt" >"$W/mount.log" 2>&1 ||
			die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	securefs)
		comm=securefs
		local -a kdf=()
		if securefs create --help 2>&1 | grep -q -- '--pbkdf'; then
			kdf=(--pbkdf pkcs5-pbkdf2-hmac-sha256 --rounds 1)
		elif securefs create --help 2>&1 | grep -q -- '--rounds'; then
			kdf=(--rounds 1)
		fi
		securefs create "${kdf[@]}" --pass "$PASSWORD" "$back" >"$W/init.log" 2>&1 ||
			die "$fs: create failed: $(cat "$W/init.log")"
		securefs mount -b --log "$W/securefs.log" --pass "$PASSWORD" "$back" "$mnt" \
			>"$W/mount.log" 2>&1 || die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	lethefs | lethefs-aes)
		comm=lethefs
		local -a cipher=()
		if [[ $fs == lethefs-aes ]]; then cipher=(--cipher aes256gcm); fi
		"$BIN/lethefs" init --passfile "$PASSFILE" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "${cipher[@]}" \
			"$back" >"$W/init.log" 2>&1 || die "$fs: init failed: $(cat "$W/init.log")"
		"$BIN/lethefs" mount --passfile "$PASSFILE" "$back" "$mnt" >"$W/mount.log" 2>&1 ||
			die "$fs: mount failed: $(cat "$W/mount.log")"
		;;
	*) die "unknown filesystem $fs" ;;
	esac

	if [[ $fs != plain ]]; then
		local i
		for i in $(seq 50); do
			mountpoint -q "$mnt" && break
			sleep 0.2
		done
		mountpoint -q "$mnt" || die "$fs: $mnt is not a mountpoint after mount"
		pid=$(daemon_pid "$comm" "$mnt") || pid=""
		[[ -n $pid ]] || log "$fs: warning: daemon PID not found, no memory figures"
	fi

	# 1. Sequential write and read.
	local f="$dir/seq.dat" t0 t1 rc bytes
	dd_mbs() { # dd stderr file -> MB/s (10^6 bytes/s, as dd prints)
		awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1); b = $1 }
		     END { if (s > 0) printf "%.0f", b / s / 1e6 }' "$1"
	}
	log "$fs: sequential write ${BENCH_SIZE_MB} MiB"
	drop_caches
	if T dd if=/dev/zero of="$f" bs=1M count="$BENCH_SIZE_MB" conv=fsync 2>"$W/dd-write.log"; then
		record write_mbs "$(dd_mbs "$W/dd-write.log")"
	else
		err "seq write: dd failed: $(tail -n 3 "$W/dd-write.log")"
	fi
	log "$fs: sequential read"
	drop_caches
	if T dd if="$f" of=/dev/null bs=1M 2>"$W/dd-read.log"; then
		bytes=$(awk '/copied/ { print $1 }' "$W/dd-read.log")
		if [[ $bytes != $((BENCH_SIZE_MB * 1048576)) ]]; then
			err "seq read: read $bytes bytes, expected $((BENCH_SIZE_MB * 1048576))"
			bad read_mbs
		fi
		record read_mbs "$(dd_mbs "$W/dd-read.log")"
	else
		err "seq read: dd failed: $(tail -n 3 "$W/dd-read.log")"
	fi
	rm -f "$f" || err "rm seq.dat failed"

	# 2. fio random 4 KiB write, then read (fio lays the file out first,
	#    outside the measured runtime).
	fio_iops() { # rw field
		local rw=$1 field=$2 extra=()
		[[ $rw == randwrite ]] && extra=(--end_fsync=1)
		T fio --name="$rw" --filename="$dir/fio.dat" --size="$BENCH_FIO_SIZE" --rw="$rw" \
			--bs=4k --ioengine=psync --direct=0 --numjobs=1 --runtime="$BENCH_FIO_RUNTIME" \
			--time_based "${extra[@]}" --minimal >"$W/fio-$rw.log" 2>&1 || {
			err "fio $rw failed: $(tail -n 3 "$W/fio-$rw.log")"
			return 0
		}
		awk -F';' -v f="$field" '$1 == 3 { if ($5 != 0) e = $5; v = $f } END { if (e) exit 1; printf "%.0f", v }' \
			"$W/fio-$rw.log" || err "fio $rw reported an error: $(tail -n 3 "$W/fio-$rw.log")"
	}
	log "$fs: fio randwrite 4k (${BENCH_FIO_SIZE}, ${BENCH_FIO_RUNTIME}s)"
	out=$(fio_iops randwrite 49)
	if [[ -n $out ]]; then record randwrite_iops "$out"; fi
	log "$fs: fio randread 4k"
	drop_caches
	out=$(fio_iops randread 8)
	if [[ -n $out ]]; then record randread_iops "$out"; fi
	rm -f "$dir/fio.dat" || err "rm fio.dat failed"

	# 3. Source tree: extract (+ sync), ls -lR, rm -rf (+ sync).
	local top expect
	top=$(cat "$RES/tree.top")
	expect=$(cat "$RES/tree.count")
	log "$fs: tar -xf ($expect entries)"
	drop_caches
	requests >"$W/req0"
	t0=$(now)
	rc=0
	T tar -xf "$TREE_TAR" -C "$dir" 2>"$W/tar.err" || rc=$?
	sync
	t1=$(now)
	requests >"$W/req1"
	record extract_s "$(secs "$t0" "$t1")"
	per_entry "$W/req0" "$W/req1" "$expect" extract_req
	if ((rc != 0)) || [[ -s $W/tar.err ]]; then
		err "tar -xf exited $rc, $(wc -l <"$W/tar.err") lines on stderr; first ones:"
		head -n 20 "$W/tar.err" >>"$ERRF"
		summarize "$W/tar.err"
		bad extract_s
	fi
	if [[ -n $pid ]]; then
		record hwm_kb "$(vm_kb "$pid" VmHWM)"
		record rss_kb "$(vm_kb "$pid" VmRSS)"
	fi
	local n
	n=$(find "$dir/$top" 2>>"$W/find.err" | wc -l) || true
	record entries "$n"
	if [[ $n != "$expect" ]]; then
		err "after extract: find counts $n entries, the archive has $expect"
		bad extract_s
		bad ls_s
		bad rm_s
	fi
	if [[ -s $W/find.err ]]; then
		err "find errors:"
		head -n 10 "$W/find.err" >>"$ERRF"
	fi

	if [[ " $BENCH_VERIFY " == *" $fs "* || $BENCH_VERIFY == all ]]; then
		log "$fs: verifying the tree with tar -d (not timed)"
		drop_caches
		rc=0
		T tar -df "$TREE_TAR" -C "$dir" >"$W/tar-d.out" 2>&1 || rc=$?
		if ((rc != 0)); then
			err "tar -d: $(wc -l <"$W/tar-d.out") differences (exit $rc); first ones:"
			head -n 20 "$W/tar-d.out" >>"$ERRF"
		fi
		record verified "$([[ $rc == 0 ]] && echo ok || echo DIFF)"
	fi

	log "$fs: ls -lR"
	drop_caches
	requests >"$W/req0"
	t0=$(now)
	rc=0
	T ls -lR "$dir/$top" >"$W/ls.out" 2>"$W/ls.err" || rc=$?
	t1=$(now)
	requests >"$W/req1"
	record ls_s "$(secs "$t0" "$t1")"
	per_entry "$W/req0" "$W/req1" "$expect" ls_req
	if ((rc != 0)) || [[ -s $W/ls.err ]]; then
		err "ls -lR exited $rc, $(wc -l <"$W/ls.err") lines on stderr; first ones:"
		head -n 20 "$W/ls.err" >>"$ERRF"
		summarize "$W/ls.err"
		bad ls_s
	fi

	log "$fs: rm -rf"
	drop_caches
	requests >"$W/req0"
	t0=$(now)
	rc=0
	T rm -rf "$dir/$top" 2>"$W/rm.err" || rc=$?
	sync
	t1=$(now)
	requests >"$W/req1"
	record rm_s "$(secs "$t0" "$t1")"
	per_entry "$W/req0" "$W/req1" "$expect" rm_req
	if ((rc != 0)) || [[ -s $W/rm.err ]]; then
		err "rm -rf exited $rc, $(wc -l <"$W/rm.err") lines on stderr; first ones:"
		head -n 20 "$W/rm.err" >>"$ERRF"
		summarize "$W/rm.err"
		bad rm_s
	fi
	if [[ -e $dir/$top ]]; then
		err "after rm -rf: $dir/$top still exists"
		bad rm_s
	fi
	if [[ -n $pid ]]; then record hwm_end_kb "$(vm_kb "$pid" VmHWM)"; fi

	# 4. Several clients at once: fio 4 KiB random read+write by one job,
	#    then by four jobs (a file each, the same total size), and two tar
	#    extracts side by side. Scaling = what the extra clients add
	#    (IOPS of 4 jobs / IOPS of 1; twice the single extract's time / the
	#    time of the two together): above 1, the filesystem used them.
	if [[ ${BENCH_MULTI:-1} == 1 ]]; then
		multi_clients
	fi

	if [[ $fs != plain ]]; then
		unmount "$mnt"
		if mountpoint -q "$mnt"; then err "could not unmount $mnt"; fi
		if [[ -n $pid ]]; then
			for i in $(seq 50); do
				[[ -d /proc/$pid ]] || break
				sleep 0.2
			done
			if [[ -d /proc/$pid ]]; then err "daemon $pid still running 10 s after unmount"; fi
		fi
	fi
	rm -rf "$W"
	log "$fs: done"
}

# Section 4 of run_one (same variables: fs dir W pid). fio's terse output:
# field 8 is the read IOPS, 49 the write IOPS (group_reporting: one line).
multi_clients() {
	local jobs out t0 t1 rc
	for jobs in 1 4; do
		log "$fs: fio randrw 4k, $jobs job(s)"
		drop_caches
		T fio --name=multi --directory="$dir" --rw=randrw \
			--size="$(($(numfmt --from=iec "$BENCH_FIO_SIZE") / jobs))" \
			--bs=4k --ioengine=psync --direct=0 --numjobs="$jobs" --group_reporting \
			--runtime="$BENCH_FIO_RUNTIME" --time_based --end_fsync=1 --minimal \
			>"$W/fio-multi-$jobs.log" 2>&1 || {
			err "fio randrw $jobs jobs failed: $(tail -n 3 "$W/fio-multi-$jobs.log")"
			continue
		}
		out=$(awk -F';' '$1 == 3 { if ($5 != 0) e = $5; v = $8 + $49 } END { if (e) exit 1; printf "%.0f", v }' \
			"$W/fio-multi-$jobs.log") || {
			err "fio randrw $jobs jobs reported an error: $(tail -n 3 "$W/fio-multi-$jobs.log")"
			continue
		}
		record "randrw${jobs}_iops" "$out"
	done
	rm -f "$dir"/multi.* || err "rm of fio's multi.* files failed"

	local expect
	expect=$(cat "$RES/tree.count")
	log "$fs: two tar -xf at once ($expect entries each)"
	mkdir -p "$dir/x1" "$dir/x2"
	drop_caches
	t0=$(now)
	rc=0
	T tar -xf "$TREE_TAR" -C "$dir/x1" 2>"$W/tar1.err" &
	local p1=$!
	T tar -xf "$TREE_TAR" -C "$dir/x2" 2>"$W/tar2.err" || rc=$?
	wait "$p1" || rc=$?
	sync
	t1=$(now)
	record extract2_s "$(secs "$t0" "$t1")"
	if ((rc != 0)) || [[ -s $W/tar1.err || -s $W/tar2.err ]]; then
		err "two tar -xf at once: exit $rc; stderr: $(head -n 5 "$W/tar1.err" "$W/tar2.err")"
		bad extract2_s
	fi
	local n1 n2
	n1=$(find "$dir/x1" -mindepth 1 | wc -l)
	n2=$(find "$dir/x2" -mindepth 1 | wc -l)
	if [[ $n1 != "$expect" || $n2 != "$expect" ]]; then
		err "two tar -xf at once: $n1 and $n2 entries, the archive has $expect"
		bad extract2_s
	fi
	rm -rf "$dir/x1" "$dir/x2" || err "rm -rf of the two extracts failed"
}

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

# ---------------------------------------------------------------------------
# Tables.
# ---------------------------------------------------------------------------
get() { # fs key
	[[ -f $RES/$1.tsv ]] || return 0
	awk -v k="$2" '$1 == k { v = $2 } END { if (v != "") print v }' "$RES/$1.tsv"
}
isbad() { [[ -n $(get "$1" "${2}_bad") ]]; }
val() { # fs key -> value or "-", with "*" when errors happened
	local v
	v=$(get "$1" "$2")
	if isbad "$1" "$2"; then v="${v}*"; fi
	echo "${v:--}"
}
mib() { # fs key (kB) -> MiB
	local v
	v=$(get "$1" "$2")
	if [[ -n $v ]]; then
		awk -v v="$v" 'BEGIN { printf "%.0f", v / 1024 }'
	else
		echo "-"
	fi
}

echo
echo "### Figures"
echo
echo "| filesystem | seq write MB/s | seq read MB/s | rand read 4k IOPS | rand write 4k IOPS | tar -xf +sync s | ls -lR s | rm -rf +sync s | entries | daemon VmHWM after extract MiB | VmHWM at end MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for fs in "${FS_LIST[@]}"; do
	name=$fs
	case $fs in
	lethefs) name="lethefs (xchacha20poly1305)" ;;
	lethefs-aes) name="lethefs (aes256gcm)" ;;
	plain) name="plain $BACK_FS (no FUSE)" ;;
	passthrough) name="passthrough_ll (no crypto)" ;;
	passthrough-hl) name="passthrough, high-level (no crypto)" ;;
	esac
	if [[ " ${FAILED[*]} " == *" $fs "* ]]; then name="$name FAILED"; fi
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
		"$(val "$fs" write_mbs)" "$(val "$fs" read_mbs)" "$(val "$fs" randread_iops)" \
		"$(val "$fs" randwrite_iops)" "$(val "$fs" extract_s)" "$(val "$fs" ls_s)" \
		"$(val "$fs" rm_s)" "$(val "$fs" entries)" "$(mib "$fs" hwm_kb)" "$(mib "$fs" hwm_end_kb)"
done

ratio() { # a b -> a/b
	[[ -n $1 && -n $2 ]] || {
		echo "-"
		return
	}
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
}
for l in lethefs lethefs-aes; do
	sel "$l" || continue
	OTHERS=()
	for o in gocryptfs securefs passthrough passthrough-hl plain; do
		if sel "$o"; then OTHERS+=("$o"); fi
	done
	((${#OTHERS[@]})) || continue
	echo
	echo "### Ratios $l / other"
	echo
	hdr="| metric | better |"
	sep="|---|---|"
	for o in "${OTHERS[@]}"; do
		hdr+=" $l/$o |"
		sep+="---:|"
	done
	echo "$hdr"
	echo "$sep"
	for m in "write_mbs:seq write MB/s:higher" "read_mbs:seq read MB/s:higher" \
		"randread_iops:rand read 4k IOPS:higher" "randwrite_iops:rand write 4k IOPS:higher" \
		"extract_s:tar -xf +sync time:lower" "ls_s:ls -lR time:lower" "rm_s:rm -rf +sync time:lower" \
		"hwm_kb:daemon VmHWM after extract:lower"; do
		IFS=: read -r key label better <<<"$m"
		line="| $label | $better is better for lethefs |"
		for o in "${OTHERS[@]}"; do
			r=$(ratio "$(get "$l" "$key")" "$(get "$o" "$key")")
			if isbad "$l" "$key" || isbad "$o" "$key"; then r="$r*"; fi
			line+=" $r |"
		done
		echo "$line"
	done
done

scaling() { # fs -> "4-job scaling / 2-extract scaling"
	local f=$1 one four e1 e2
	one=$(get "$f" randrw1_iops) four=$(get "$f" randrw4_iops)
	e1=$(get "$f" extract_s) e2=$(get "$f" extract2_s)
	echo "$(ratio "$four" "$one") | $( [[ -n $e1 && -n $e2 ]] && awk -v a="$e1" -v b="$e2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", 2 * a / b }' || echo -)"
}
if [[ ${BENCH_MULTI:-1} == 1 ]]; then
	echo
	echo "### Several clients at once"
	echo
	echo "fio 4 KiB randrw (psync, ${BENCH_FIO_SIZE} in all, ${BENCH_FIO_RUNTIME}s) by 1 and by 4 jobs;"
	echo "two tar -xf of the tree side by side (+sync). Scaling: IOPS 4 jobs / 1 job;"
	echo "2 × one extract's time / the two extracts' time (above 1: the clients ran in parallel)."
	echo
	echo "| filesystem | randrw IOPS 1 job | randrw IOPS 4 jobs | two extracts s | 4-job scaling | 2-extract scaling |"
	echo "|---|---:|---:|---:|---:|---:|"
	for fs in "${FS_LIST[@]}"; do
		printf '| %s | %s | %s | %s | %s |\n' "$fs" "$(val "$fs" randrw1_iops)" \
			"$(val "$fs" randrw4_iops)" "$(val "$fs" extract2_s)" "$(scaling "$fs")"
	done
	for l in lethefs lethefs-aes; do
		sel "$l" || continue
		echo
		line="| $l / other |"
		hdr="| ratio |"
		sep="|---|"
		for o in gocryptfs securefs passthrough passthrough-hl plain; do
			sel "$o" || continue
			hdr+=" IOPS 4 jobs vs $o (higher better) | two extracts vs $o (lower better) |"
			sep+="---:|---:|"
			line+=" $(ratio "$(get "$l" randrw4_iops)" "$(get "$o" randrw4_iops)") | $(ratio "$(get "$l" extract2_s)" "$(get "$o" extract2_s)") |"
		done
		echo "$hdr"
		echo "$sep"
		echo "$line"
	done
fi

for l in lethefs lethefs-aes; do
	sel "$l" || continue
	[[ -n $(get "$l" extract_req) ]] || continue
	echo
	echo "### FUSE requests per tree entry, $l (status' fuse_requests, $(cat "$RES/tree.count") entries)"
	echo
	echo "| workload | requests per entry | busiest operations per entry |"
	echo "|---|---:|---|"
	echo "| tar -xf +sync | $(get "$l" extract_req) | $(get "$l" extract_req_ops | sed 's/=/ /g; s/,/, /g') |"
	echo "| ls -lR | $(get "$l" ls_req) | $(get "$l" ls_req_ops | sed 's/=/ /g; s/,/, /g') |"
	echo "| rm -rf +sync | $(get "$l" rm_req) | $(get "$l" rm_req_ops | sed 's/=/ /g; s/,/, /g') |"
done

if grep -q '_bad ' "$RES"/*.tsv 2>/dev/null; then
	echo
	echo "\* measured while errors happened (see below): not a valid comparison."
fi
echo
echo "### Errors and checks"
any=0
for fs in "${FS_LIST[@]}"; do
	v=$(get "$fs" verified)
	if [[ -n $v ]]; then echo "- $fs: tar -d verification: $v"; fi
	if [[ -s $RES/$fs.errors ]]; then
		any=1
		echo "- $fs:"
		sed 's/^/    /' "$RES/$fs.errors"
	fi
done
if [[ $any == 0 && ${#FAILED[@]} == 0 ]]; then
	echo "- none: every tar, ls and rm exited 0 with nothing on stderr"
fi
if ((${#FAILED[@]})); then echo "- failed to run: ${FAILED[*]}"; fi
echo
echo "(raw results: $RES)"
((${#FAILED[@]} == 0))
