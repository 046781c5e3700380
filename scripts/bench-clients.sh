#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real-client benchmarks (issue 21), run as `scripts/bench.sh clients`:
# PostgreSQL pgbench, SQLite inserts with synchronous=FULL (WAL and DELETE),
# fio 4k randrw buffered and O_DIRECT, and git clone, on a plain ext4
# directory, gocryptfs and lethefs side by side in one run, reported as ratios
# to ext4; then FUSE requests per transaction on lethefs, counted from its
# debug log. See docs/PERFORMANCE.md.
#
# Environment:
#   BENCH_DIR        work dir on the disk to measure (default /var/tmp/lethefs-bench-clients)
#   BENCH_ONLY       subset of: ext4 gocryptfs lethefs (default all three)
#   BENCH_PG_SCALE   pgbench scale (default 10), BENCH_PG_CLIENTS (4), BENCH_PG_SECONDS (60)
#   BENCH_SQLITE_N   inserts per SQLite mode (default 20000)
#   BENCH_FIO_SIZE   fio file size (default 256M), BENCH_FIO_SECONDS (20)
#   BENCH_QUICK=1    small sizes for a smoke test
#   LETHEFS          lethefs binary (default build/lethefs)
# Needs root (drop_caches, runuser postgres, mounts); installs missing Debian
# packages (postgresql, gocryptfs, fio, sqlite3, git). Every mount it makes is
# unmounted and every server it starts is stopped on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/lethefs-bench-clients}
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
	: "${BENCH_PG_SCALE:=2}" "${BENCH_PG_SECONDS:=10}" "${BENCH_SQLITE_N:=1000}"
	: "${BENCH_FIO_SIZE:=32M}" "${BENCH_FIO_SECONDS:=5}"
fi
BENCH_PG_SCALE=${BENCH_PG_SCALE:-10}
BENCH_PG_CLIENTS=${BENCH_PG_CLIENTS:-4}
BENCH_PG_SECONDS=${BENCH_PG_SECONDS:-60}
BENCH_SQLITE_N=${BENCH_SQLITE_N:-20000}
BENCH_FIO_SIZE=${BENCH_FIO_SIZE:-256M}
BENCH_FIO_SECONDS=${BENCH_FIO_SECONDS:-20}
BENCH_ONLY=${BENCH_ONLY:-ext4 gocryptfs lethefs}
LETHEFS=${LETHEFS:-$REPO/build/lethefs}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
PGPORT=54031
PASS=lethefs-bench-clients-passphrase # throwaway vaults only
export LC_ALL=C

log() { printf '[bench-clients %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}

[[ $(id -u) == 0 ]] || die "run as root (postgres runs through runuser, caches are dropped)"
need=()
for p in postgresql gocryptfs fio sqlite3 git python3 strace; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
	log "installing Debian packages: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[[ -x $LETHEFS ]] || make -C "$REPO" >/dev/null
[[ -x $PGBIN/initdb ]] || die "no PostgreSQL server binaries"

RES=$BENCH_DIR/results
mkdir -p "$BENCH_DIR" "$RES"
chmod 0711 "$BENCH_DIR"
rm -f "$RES"/*.tsv
printf '%s\n' "$PASS" >"$BENCH_DIR/pass"
chmod 600 "$BENCH_DIR/pass"
cp "$LETHEFS" "$BENCH_DIR/lethefs"
SRC_REPO=$BENCH_DIR/src-repo
[[ -d $SRC_REPO ]] || git clone -q --bare --no-local "$REPO" "$SRC_REPO"

PGDIR=""
cleanup() {
	if [[ -n $PGDIR ]]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	local m
	for m in "$BENCH_DIR"/fs-*/mnt; do
		mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
	done
	return 0
}
trap cleanup EXIT

# setup FS -> prints the directory to work in (owned by postgres)
setup_fs() {
	local fs=$1 w=$BENCH_DIR/fs-$1
	rm -rf "$w"
	mkdir -p "$w/back" "$w/mnt"
	case $fs in
	ext4) chown postgres:postgres "$w/back" && echo "$w/back" && return ;;
	gocryptfs)
		gocryptfs -init -q -scryptn 10 -passfile "$BENCH_DIR/pass" "$w/back" >/dev/null
		gocryptfs -q -allow_other -passfile "$BENCH_DIR/pass" "$w/back" "$w/mnt" >/dev/null
		chown postgres:postgres "$w/mnt"
		;;
	lethefs | lethefs-debug)
		local weak=()
		"$BENCH_DIR/lethefs" init --help | grep -q allow-weak-kdf && weak=(--allow-weak-kdf)
		"$BENCH_DIR/lethefs" init --passfile "$BENCH_DIR/pass" "${weak[@]}" --kdf-ops 1 \
			--kdf-mem 8M "$w/back" >/dev/null
		if [[ $fs == lethefs-debug ]]; then
			"$BENCH_DIR/lethefs" mount -d --passfile "$BENCH_DIR/pass" -o allow_other \
				"$w/back" "$w/mnt" >/dev/null 2>"$w/debug.log" &
			for _ in $(seq 100); do mountpoint -q "$w/mnt" && break; sleep 0.1; done
		else
			"$BENCH_DIR/lethefs" mount --passfile "$BENCH_DIR/pass" -o allow_other \
				"$w/back" "$w/mnt" >/dev/null
		fi
		# The mount root to the service account (what init --root-owner
		# does; this way older builds can be measured too).
		chown postgres:postgres "$w/mnt"
		;;
	esac
	mountpoint -q "$w/mnt" || die "$fs: not mounted on $w/mnt"
	echo "$w/mnt"
}

teardown_fs() {
	local fs=$1 w=$BENCH_DIR/fs-$1
	mountpoint -q "$w/mnt" && { fusermount3 -u "$w/mnt" || umount -l "$w/mnt"; }
	# The daemon exits once unmounted; wait, so that nothing holds $w.
	for _ in $(seq 100); do
		pgrep -f "lethefs mount .*$w/back" >/dev/null || break
		sleep 0.1
	done
	rm -rf "$w"
}

pg() { runuser -u postgres -- "$@"; }
pg_up() { # dir
	PGDIR=$1/pg
	pg "$PGBIN/initdb" -D "$PGDIR" --auth=trust -U postgres >/dev/null
	printf '%s\n' "listen_addresses = ''" "port = $PGPORT" "unix_socket_directories = '$1'" \
		"shared_buffers = 128MB" >>"$PGDIR/postgresql.conf"
	pg "$PGBIN/pg_ctl" -D "$PGDIR" -l "$1/pg.log" -w start >/dev/null
	pg "$PGBIN/pgbench" -h "$1" -p "$PGPORT" -i -q -s "$BENCH_PG_SCALE" postgres >/dev/null 2>&1
	pg "$PGBIN/psql" -h "$1" -p "$PGPORT" -qc CHECKPOINT postgres
}
pg_down() {
	pg "$PGBIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null
	PGDIR=""
}

sqlite_run() { # db mode n -> seconds
	python3 - "$1" "$2" "$3" <<'PY'
import sqlite3, sys, time
db, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=%s" % mode)
con.execute("PRAGMA synchronous=FULL")
con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
t = time.time()
for i in range(n):
    con.execute("INSERT INTO t(v) VALUES (?)", ("lab result %08d" % i,))
print("%.2f" % (time.time() - t))
PY
}

fio_run() { # dir direct -> "readIOPS writeIOPS"
	fio --name=rw --filename="$1/fio.dat" --size="$BENCH_FIO_SIZE" --rw=randrw --bs=4k \
		--ioengine=psync --direct="$2" --runtime="$BENCH_FIO_SECONDS" --time_based \
		--minimal 2>/dev/null | awk -F';' '{ printf "%.0f %.0f", $8, $49 }'
	rm -f "$1/fio.dat"
}

measure() {
	local fs=$1 d out t0 t1
	d=$(setup_fs "$fs") || die "$fs: set-up failed"
	local R=$RES/$fs.tsv
	log "$fs: pgbench scale $BENCH_PG_SCALE, $BENCH_PG_CLIENTS clients, ${BENCH_PG_SECONDS}s"
	pg_up "$d"
	out=$(pg "$PGBIN/pgbench" -h "$d" -p "$PGPORT" -c "$BENCH_PG_CLIENTS" -j 2 \
		-T "$BENCH_PG_SECONDS" -n postgres 2>&1)
	echo "pgbench_tps $(awk '/^tps/ { printf "%.0f", $3 }' <<<"$out")" >>"$R"
	pg_down
	for mode in wal delete; do
		log "$fs: SQLite $BENCH_SQLITE_N inserts, $mode, synchronous=FULL"
		echo "sqlite_${mode}_s $(sqlite_run "$d/sq-$mode.db" "$mode" "$BENCH_SQLITE_N")" >>"$R"
	done
	for direct in 0 1; do
		log "$fs: fio 4k randrw direct=$direct"
		if read -r rd wr <<<"$(fio_run "$d" "$direct")" && [[ -n $wr ]]; then
			echo "fio_randrw_d${direct}_iops $((rd + wr))" >>"$R"
		else
			log "$fs: fio direct=$direct failed"
		fi
	done
	log "$fs: git clone"
	drop_caches
	t0=$(now)
	git clone -q --no-local "$SRC_REPO" "$d/clone"
	sync
	t1=$(now)
	echo "git_clone_s $(secs "$t0" "$t1")" >>"$R"
	teardown_fs "$fs"
}

# FUSE requests per transaction on lethefs, from its debug log.
round_trips() {
	local d n
	d=$(setup_fs lethefs-debug) || die "lethefs-debug: set-up failed"
	local L=$BENCH_DIR/fs-lethefs-debug/debug.log
	count() { grep -acE 'opcode: [A-Z_]+' "$L"; }
	pg_up "$d"
	: >"$L"
	pg "$PGBIN/pgbench" -h "$d" -p "$PGPORT" -c "$BENCH_PG_CLIENTS" -t 200 -n postgres >/dev/null 2>&1
	n=$(count)
	echo "pgbench: $n requests for $((200 * BENCH_PG_CLIENTS)) transactions," \
		"$(awk -v a="$n" -v b=$((200 * BENCH_PG_CLIENTS)) 'BEGIN { printf "%.1f", a / b }') per transaction;" \
		"by opcode: $(grep -aoE 'opcode: [A-Z_]+' "$L" | sort | uniq -c | sort -rn | head -6 |
			awk '{ printf "%s %s, ", $3, $1 }')" >"$RES/roundtrips.txt"
	pg_down
	for mode in wal delete; do
		python3 -c "import sqlite3; c = sqlite3.connect('$d/rt-$mode.db'); c.execute('PRAGMA journal_mode=$mode')" >/dev/null
		: >"$L"
		sqlite_run "$d/rt-$mode.db" "$mode" 500 >/dev/null
		n=$(count)
		echo "SQLite $mode: $n requests for 500 transactions," \
			"$(awk -v a="$n" 'BEGIN { printf "%.1f", a / 500 }') per transaction;" \
			"by opcode: $(grep -aoE 'opcode: [A-Z_]+' "$L" | sort | uniq -c | sort -rn | head -6 |
				awk '{ printf "%s %s, ", $3, $1 }')" >>"$RES/roundtrips.txt"
	done
	teardown_fs lethefs-debug
}

echo "== lethefs real-client benchmark $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  $(nproc) CPUs, $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "backing:  $BENCH_DIR on $(findmnt -n -o FSTYPE -T "$BENCH_DIR")"
echo "versions: lethefs $(git -C "$REPO" describe --always --dirty 2>/dev/null);" \
	"$(gocryptfs -version 2>/dev/null | cut -d';' -f1); PostgreSQL $("$PGBIN/postgres" -V | awk '{ print $3 }');" \
	"SQLite $(sqlite3 -version | cut -d' ' -f1); fio $(fio --version)"
echo "workload: pgbench -s $BENCH_PG_SCALE -c $BENCH_PG_CLIENTS -T $BENCH_PG_SECONDS; SQLite $BENCH_SQLITE_N inserts;" \
	"fio randrw 4k psync $BENCH_FIO_SIZE ${BENCH_FIO_SECONDS}s; git clone of this repository"
for fs in $BENCH_ONLY; do measure "$fs"; done
[[ " $BENCH_ONLY " == *" lethefs "* ]] && round_trips

get() { awk -v k="$2" '$1 == k { print $2 }' "$RES/$1.tsv" 2>/dev/null; }
ratio() { # a b -> a/b
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}
echo
echo "| metric | ext4 | gocryptfs | lethefs | gocryptfs/ext4 | lethefs/ext4 | target (lethefs) |"
echo "|---|---:|---:|---:|---:|---:|---|"
row() { # key label kind(higher|lower) target
	local e g l
	e=$(get ext4 "$1") g=$(get gocryptfs "$1") l=$(get lethefs "$1")
	if [[ $3 == higher ]]; then
		echo "| $2 | ${e:--} | ${g:--} | ${l:--} | $(ratio "$g" "$e") | $(ratio "$l" "$e") | $4 |"
	else
		echo "| $2 | ${e:--} | ${g:--} | ${l:--} | $(ratio "$g" "$e") | $(ratio "$l" "$e") | $4 |"
	fi
}
row pgbench_tps "pgbench tps (higher is better)" higher "≥ 0.85"
row sqlite_wal_s "SQLite WAL, s (lower is better)" lower "≤ 1.5"
row sqlite_delete_s "SQLite DELETE, s (lower is better)" lower "≤ 1.5"
row fio_randrw_d0_iops "fio randrw 4k buffered, IOPS (higher)" higher "≥ 0.85"
row fio_randrw_d1_iops "fio randrw 4k O_DIRECT, IOPS (higher)" higher "≥ 0.5"
row git_clone_s "git clone, s (lower is better)" lower "-"
if [[ -f $RES/roundtrips.txt ]]; then
	echo
	echo "FUSE requests on lethefs (debug log):"
	sed 's/^/- /' "$RES/roundtrips.txt"
fi
