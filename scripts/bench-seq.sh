#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/bench-seq.sh: the sequential part of scripts/bench.sh alone, for
# measuring one knob of the read/write path at a time (docs/PERFORMANCE.md,
# "Sequential I/O"). Per round, for plain ext4 and each lethefs variant in
# turn (interleaved, so that a change in the machine's load hits all of
# them): `dd if=/dev/zero bs=1M conv=fsync` of SIZE MiB, caches dropped,
# `dd of=/dev/null bs=1M` of the same file. Prints every figure, the load
# average at the start of each round and the medians.
#
# usage: sudo bash scripts/bench-seq.sh [ROUNDS [SIZE_MB]]
#   SEQ_VARIANTS  "LABEL=BINARY[@MOUNT,OPTIONS] ..." (default: lethefs=build/lethefs);
#                 a LABEL ending in -aes gets a vault with --cipher aes256gcm
#   SEQ_PLAIN=0   leave plain ext4 out
#   SEQ_DIR       work directory on the disk to measure (default /var/tmp/lethefs-seq)
#   SEQ_PERF=LABEL  record `perf record -g` of that variant's daemon during
#                 each read into SEQ_DIR/perf-LABEL-ROUND.data
#   SEQ_FIO=SECS  also fio random 4 KiB write then (caches dropped) read, as
#                 bench.sh runs them, SECS seconds each on a 256 MiB file
#                 (to check that a read-path change costs random I/O nothing)
#   SEQ_DD=0      leave the sequential dd part out (with SEQ_FIO: random I/O only)
#   SEQ_FIO_SIZE  fio's file size (default 256M, as bench.sh)
#   SEQ_PEERS="gocryptfs securefs"  also these peers, mounted as bench.sh
#                 mounts them, in the same interleaved rounds (their daemon's
#                 CPU is not counted)
set -euo pipefail
export LC_ALL=C

ROUNDS=${1:-3}
SIZE_MB=${2:-1024}
REPO=$(cd "$(dirname "$0")/.." && pwd)
SEQ_DIR=${SEQ_DIR:-/var/tmp/lethefs-seq}
SEQ_VARIANTS=${SEQ_VARIANTS:-lethefs=$REPO/build/lethefs}
SEQ_PLAIN=${SEQ_PLAIN:-1}
SEQ_PERF=${SEQ_PERF:-}
SEQ_FIO=${SEQ_FIO:-0}
SEQ_DD=${SEQ_DD:-1}
SEQ_FIO_SIZE=${SEQ_FIO_SIZE:-256M}
SEQ_PEERS=${SEQ_PEERS:-}
PASSFILE=$SEQ_DIR/passphrase

log() { printf '[seq %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
[[ $(id -u) == 0 ]] || die "run as root (drop_caches)"

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

cpu_ticks() { # PID -> user + system clock ticks so far
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

dd_mbs() { # dd's stderr -> MB/s (10^6 bytes per second, as dd prints)
	awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1); b = $1 }
	     END { if (s > 0) printf "%.0f", b / s / 1e6 }' "$1"
}

MOUNTED=()
unmount_all() {
	local m
	for m in "${MOUNTED[@]}"; do
		mountpoint -q "$m" && { fusermount3 -u "$m" || umount -l "$m"; }
	done
	return 0
}
trap unmount_all EXIT

mkdir -p "$SEQ_DIR"
echo "lethefs-bench-seq-passphrase" >"$PASSFILE"
chmod 600 "$PASSFILE"

# shellcheck source=scripts/bench-common.sh
source "$REPO/scripts/bench-common.sh"

# label -> directory to write in (plain: a directory; lethefs: a mount)
declare -A DIR PID
LABELS=()
if [[ $SEQ_PLAIN == 1 ]]; then
	LABELS+=(plain)
	rm -rf "$SEQ_DIR/plain"
	mkdir -p "$SEQ_DIR/plain"
	DIR[plain]=$SEQ_DIR/plain
fi
for peer in $SEQ_PEERS; do
	w=$SEQ_DIR/$peer
	if mountpoint -q "$w/mnt"; then fusermount3 -u "$w/mnt"; fi
	rm -rf "$w"
	mkdir -p "$w/back" "$w/mnt"
	case $peer in
	gocryptfs)
		gocryptfs -init -q -scryptn 10 -passfile "$PASSFILE" "$w/back" >"$w/init.log" 2>&1 ||
			die "$peer: init: $(cat "$w/init.log")"
		gocryptfs -q -passfile "$PASSFILE" "$w/back" "$w/mnt" >"$w/mount.log" 2>&1 ||
			die "$peer: mount: $(cat "$w/mount.log")"
		;;
	securefs)
		kdf=()
		if securefs create --help 2>&1 | grep -q -- '--pbkdf'; then
			kdf=(--pbkdf pkcs5-pbkdf2-hmac-sha256 --rounds 1)
		elif securefs create --help 2>&1 | grep -q -- '--rounds'; then
			kdf=(--rounds 1)
		fi
		securefs create "${kdf[@]}" --pass lethefs-bench-seq "$w/back" >"$w/init.log" 2>&1 ||
			die "$peer: create: $(cat "$w/init.log")"
		securefs mount -b --log "$w/securefs.log" --pass lethefs-bench-seq "$w/back" "$w/mnt" \
			>"$w/mount.log" 2>&1 || die "$peer: mount: $(cat "$w/mount.log")"
		;;
	*) die "unknown peer $peer" ;;
	esac
	for _ in $(seq 50); do
		mountpoint -q "$w/mnt" && break
		sleep 0.1
	done
	mountpoint -q "$w/mnt" || die "$peer: not mounted"
	MOUNTED+=("$w/mnt")
	LABELS+=("$peer")
	DIR[$peer]=$w/mnt
done
for v in $SEQ_VARIANTS; do
	label=${v%%=*}
	rest=${v#*=}
	bin=${rest%%@*}
	opts=""
	[[ $rest == *@* ]] && opts=${rest#*@}
	[[ -x $bin ]] || die "$label: no binary $bin"
	w=$SEQ_DIR/$label
	if mountpoint -q "$w/mnt"; then fusermount3 -u "$w/mnt"; fi
	rm -rf "$w"
	mkdir -p "$w/back" "$w/mnt"
	cp "$bin" "$w/lethefs" # a rebuild during the run does not change it
	cipher=()
	[[ $label == *-aes ]] && cipher=(--cipher aes256gcm)
	"$w/lethefs" init --passfile "$PASSFILE" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
		"${cipher[@]}" "$w/back" >"$w/init.log" 2>&1 || die "$label: init: $(cat "$w/init.log")"
	"$w/lethefs" mount --passfile "$PASSFILE" ${opts:+-o "$opts"} "$w/back" "$w/mnt" \
		>"$w/mount.log" 2>&1 || die "$label: mount: $(cat "$w/mount.log")"
	MOUNTED+=("$w/mnt")
	mountpoint -q "$w/mnt" || die "$label: not mounted"
	PID[$label]=$(daemon_pid lethefs "$w/mnt") || die "$label: no daemon pid"
	LABELS+=("$label")
	DIR[$label]=$w/mnt
done

declare -A WRITES READS CPUMS WCPUMS RWIOPS RRIOPS
fio_iops() { # DIR rw field
	local extra=()
	[[ $2 == randwrite ]] && extra=(--end_fsync=1)
	fio --name="$2" --filename="$1/fio.dat" --size="$SEQ_FIO_SIZE" --rw="$2" --bs=4k --ioengine=psync \
		--direct=0 --numjobs=1 --runtime="$SEQ_FIO" --time_based "${extra[@]}" --minimal 2>&1 |
		awk -F';' -v f="$3" '$1 == 3 { printf "%.0f", $f }'
}
# The backing disk's reads (sectors) so far: disk reads per random read
# tell a read-ahead or a block straddling pages from the round trip.
DISK=$(lsblk -no PKNAME "$(findmnt -no SOURCE --target "$SEQ_DIR")" 2>/dev/null || true)
[[ -n $DISK ]] || DISK=$(basename "$(findmnt -no SOURCE --target "$SEQ_DIR")")
disk_sectors_read() { awk -v d="$DISK" '$3 == d { print $6 }' /proc/diskstats; }
requests() { # label -> the lethefs daemon's FUSE request counters, "op=n ..."
	[[ -n ${PID[$1]:-} ]] || return 0
	"$SEQ_DIR/$1/lethefs" status --json "${DIR[$1]}" 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin)["fuse_requests"]; print(" ".join(f"{k}={v}" for k,v in d.items() if v))'
}
fio_round() { # one fio randwrite, then (caches dropped) randread, of $label
	local rw rr s0 s1 q0 q1 q2
	q0=$(requests "$label")
	rw=$(fio_iops "${DIR[$label]}" randwrite 49)
	drop_caches
	q1=$(requests "$label")
	s0=$(disk_sectors_read)
	rr=$(fio_iops "${DIR[$label]}" randread 8)
	s1=$(disk_sectors_read)
	q2=$(requests "$label")
	rm -f "${DIR[$label]}/fio.dat"
	RWIOPS[$label]+="$rw "
	RRIOPS[$label]+="$rr "
	echo "round $r $label fio randwrite $rw randread $rr IOPS;" \
		"disk KiB read per random read $(awk -v a="$s0" -v b="$s1" -v n="$rr" -v t="$SEQ_FIO" \
			'BEGIN { if (n > 0) printf "%.1f", (b - a) / 2 / (n * t) }')"
	if [[ -n $q0 ]]; then
		echo "round $r $label requests before randwrite: $q0"
		echo "round $r $label requests after randwrite: $q1"
		echo "round $r $label requests after randread: $q2"
	fi
}
for ((r = 1; r <= ROUNDS; r++)); do
	log "round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg)"
	for label in "${LABELS[@]}"; do
		if ((SEQ_FIO > 0)); then
			fio_round
		fi
		((SEQ_DD)) || continue
		f=${DIR[$label]}/seq.dat
		rm -f "$f"
		drop_caches
		wc0=0
		[[ -n ${PID[$label]:-} ]] && wc0=$(cpu_ticks "${PID[$label]}")
		dd if=/dev/zero of="$f" bs=1M count="$SIZE_MB" conv=fsync 2>"$SEQ_DIR/w.log" ||
			die "$label: write: $(cat "$SEQ_DIR/w.log")"
		w=$(dd_mbs "$SEQ_DIR/w.log")
		wcpu_ms=-
		if [[ -n ${PID[$label]:-} ]]; then
			# the daemon's CPU time per MiB written (all its threads)
			wcpu_ms=$(awk -v a="$wc0" -v b="$(cpu_ticks "${PID[$label]}")" -v n="$SIZE_MB" \
				-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz * 1000 / n }')
		fi
		drop_caches
		perf_pid=""
		c0=0
		[[ -n ${PID[$label]:-} ]] && c0=$(cpu_ticks "${PID[$label]}")
		t0=$(date +%s.%N)
		if [[ $label == "$SEQ_PERF" ]]; then
			perf record -g -o "$SEQ_DIR/perf-$label-$r.data" -p "${PID[$label]}" \
				>/dev/null 2>&1 &
			perf_pid=$!
			sleep 0.5
		fi
		dd if="$f" of=/dev/null bs=1M 2>"$SEQ_DIR/r.log" ||
			die "$label: read: $(cat "$SEQ_DIR/r.log")"
		if [[ -n $perf_pid ]]; then
			kill -INT "$perf_pid"
			wait "$perf_pid" || true
		fi
		t1=$(date +%s.%N)
		rd=$(dd_mbs "$SEQ_DIR/r.log")
		cpu=- cpu_ms=-
		if [[ -n ${PID[$label]:-} ]]; then
			c1=$(cpu_ticks "${PID[$label]}")
			hz=$(getconf CLK_TCK)
			# share of one core while reading, and CPU time per MiB read:
			# the latter hardly depends on the machine's load
			cpu=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$hz" \
				'BEGIN { printf "%.0f", (b - a) / hz / (e - s) * 100 }')
			cpu_ms=$(awk -v a="$c0" -v b="$c1" -v n="$SIZE_MB" -v hz="$hz" \
				'BEGIN { printf "%.2f", (b - a) / hz * 1000 / n }')
		fi
		[[ $(awk '/copied/ { print $1 }' "$SEQ_DIR/r.log") == $((SIZE_MB * 1048576)) ]] ||
			die "$label: short read: $(cat "$SEQ_DIR/r.log")"
		rm -f "$f"
		WRITES[$label]+="$w "
		READS[$label]+="$rd "
		CPUMS[$label]+="$cpu_ms "
		WCPUMS[$label]+="$wcpu_ms "
		echo "round $r $label write $w read $rd daemon_cpu_during_read ${cpu}% daemon_cpu_ms_per_MiB_read $cpu_ms daemon_cpu_ms_per_MiB_written $wcpu_ms"
		log "$label: write $w MB/s, read $rd MB/s (daemon CPU $cpu% of one core while reading)"
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
if ((SEQ_DD)); then
	echo
	echo "| variant | write MB/s (rounds) | median | read MB/s (rounds) | median | daemon CPU ms per MiB read (rounds) | median | per MiB written (rounds) | median |"
	echo "|---|---|---:|---|---:|---|---:|---|---:|"
	for label in "${LABELS[@]}"; do
		echo "| $label | ${WRITES[$label]% } | $(median <<<"${WRITES[$label]}") |" \
			"${READS[$label]% } | $(median <<<"${READS[$label]}") |" \
			"${CPUMS[$label]% } | $(median <<<"${CPUMS[$label]}") |" \
			"${WCPUMS[$label]% } | $(median <<<"${WCPUMS[$label]}") |"
	done
fi
if ((SEQ_FIO > 0)); then
	echo
	echo "| variant | fio randwrite 4k IOPS (rounds) | median | fio randread 4k IOPS (rounds) | median |"
	echo "|---|---|---:|---|---:|"
	for label in "${LABELS[@]}"; do
		echo "| $label | ${RWIOPS[$label]% } | $(median <<<"${RWIOPS[$label]}") |" \
			"${RRIOPS[$label]% } | $(median <<<"${RRIOPS[$label]}") |"
	done
fi
for label in "${LABELS[@]}"; do
	[[ -n ${PID[$label]:-} ]] || continue
	echo "$label daemon VmHWM $(awk '$1 == "VmHWM:" { print $2 }' "/proc/${PID[$label]}/status") kB"
done
