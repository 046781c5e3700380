# SPDX-License-Identifier: Apache-2.0
# Real client programs on real lethefs mounts (issue 21): PostgreSQL, SQLite,
# rsync, GNU tar, fio and git, each started by the test itself, compared with
# a plain directory where that makes sense. Loaded by tests/clients/*.bats
# (make test-clients, several rounds), tests/integration/29-clients.bats
# (make test, one round) and 29-clients-shared.bats (the same on -o shared).
# Every round appends one line to $CLIENT_REPORT.

load ../integration/helpers

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
CLIENT_REPORT=${CLIENT_REPORT:-$BATS_RUN_TMPDIR/clients-report.txt}
CLIENTS_DIR=$BATS_TEST_DIRNAME/../clients
PGPID=""
sq_on=()

report() { echo "$(date -u +%H:%M:%S) [$(basename "$BATS_TEST_FILENAME")] $*" >>"$CLIENT_REPORT"; }

# A vault whose mount root belongs to postgres, mounted with allow_other;
# $T is opened so that postgres can reach the mount and the socket dir.
setup_client_vault() {
	INIT_ARGS=(--root-owner postgres:postgres --root-mode 0700)
	setup_vault
	chmod 0711 "$T"
	mkdir -p "$T/sock"
	chown postgres:postgres "$T/sock"
	client_mount
}

# Mounts the client vault as setup_client_vault did (allow_other and
# LETHEFS_CLIENT_OPTS, e.g. iattr or shared): also after each kill.
client_mount() { mount_vault -o allow_other${LETHEFS_CLIENT_OPTS:+,$LETHEFS_CLIENT_OPTS}; }

# kill -9 of this vault's daemon, then what an operator does: unmount the
# dead mount and mount again.
kill_daemon_and_remount() {
	local pid
	pid=$(daemon_pid)
	[ -n "$pid" ] || return 1
	kill -9 "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	unstall # (an engine stalled by the test: helpers.bash)
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
	client_mount
}

# --- PostgreSQL -------------------------------------------------------------
pg() { runuser -u postgres -- "$@"; }
PGPORT=54021
psql_() { pg "$PGBIN/psql" -h "$T/sock" -p "$PGPORT" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

pg_init() { # extra postgresql.conf lines as arguments
	pg "$PGBIN/initdb" -D "$MNT/pgdata" --auth=trust -U postgres >"$T/initdb.log" 2>&1 ||
		{ cat "$T/initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "port = $PGPORT"
		echo "unix_socket_directories = '$T/sock'"
		echo "shared_buffers = 32MB"
		for l in "$@"; do echo "$l"; done
	} >>"$MNT/pgdata/postgresql.conf"
}

# Appends lines to postgresql.conf (read at the next start; a later line
# wins).
pg_conf() { printf '%s\n' "$@" >>"$MNT/pgdata/postgresql.conf"; }

pg_start() {
	pg "$PGBIN/pg_ctl" -D "$MNT/pgdata" -l "$T/sock/pg.log" -w -t 120 start >/dev/null ||
		{ tail -n 30 "$T/sock/pg.log"; return 1; }
	PGPID=$(head -n1 "$MNT/pgdata/postmaster.pid")
}

# Kills this test's postmaster and everything it started, by PID.
pg_kill() {
	[ -n "$PGPID" ] || return 0
	local kids
	kids=$(pgrep -P "$PGPID" || true)
	kill -9 "$PGPID" $kids 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$PGPID" 2>/dev/null || break
		sleep 0.05
	done
	for k in $kids; do
		while kill -0 "$k" 2>/dev/null; do sleep 0.05; done
	done
	PGPID=""
}

pg_stop() {
	[ -n "$PGPID" ] || return 0
	pg "$PGBIN/pg_ctl" -D "$MNT/pgdata" -m fast -w stop >/dev/null 2>&1 || pg_kill
	PGPID=""
}

# Inserts rows one transaction at a time over one connection and records
# the id of each one the server acknowledged (psql prints it only after the
# commit), until the server goes away; then reconnects, until killed.
pg_recorder() {
	local out=$1
	: >"$out"
	while true; do
		yes "INSERT INTO ack(v) VALUES (repeat('x', 200)) RETURNING id;" |
			stdbuf -oL "$PGBIN/psql" -h "$T/sock" -p "$PGPORT" -U postgres -X -q \
				-v ON_ERROR_STOP=1 -At postgres >>"$out" 2>/dev/null
		sleep 0.1
	done
}

# One round: pgbench load and the recorder, then kill -9 of $1 (postmaster
# or daemon), restart, and check every acknowledged commit and the indexes.
# With $3 = stall (shared mounts): after the load, the engine stalls on the
# WAL segment being written for a second before the kill ($pg_stalled: the
# commits acknowledged meanwhile). PG_BENCH=0: the recorder alone.
pg_round() {
	local victim=$1 load_s=$2 stall=${3:-}
	local bench=""
	if [ "${PG_BENCH:-1}" = 1 ]; then
		pg "$PGBIN/pgbench" -h "$T/sock" -p "$PGPORT" -c 4 -T 600 -n postgres >"$T/pgbench.log" 2>&1 &
		bench=$!
	fi
	pg_recorder "$T/acked" &
	local rec=$!
	sleep "$load_s"
	if [ "$stall" = stall ]; then
		# The segment being written and the next (the insert position
		# may be about to cross into it, or sit on the boundary, which
		# pg_walfile_name names by the segment before it).
		local wal next files=()
		wal=$(psql_ -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
		next=$(psql_ -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn() + 16777216)")
		files=("$(backing_of "pgdata/pg_wal/$wal")")
		[ ! -e "$MNT/pgdata/pg_wal/$next" ] || files+=("$(backing_of "pgdata/pg_wal/$next")")
		stall_files "$T/acked" "${files[@]}"
		sleep 1
		pg_stalled=$(($(wc -l <"$T/acked") - stall_mark))
		echo "# PostgreSQL: $pg_stalled commits acknowledged while the engine stalled on $wal ($((${#files[@]} - 1)) more)" >&3
	fi
	if [ "$victim" = daemon ]; then
		kill -9 "$(daemon_pid)"
	else
		kill -9 "$PGPID"
	fi
	sleep 0.5
	kill "$rec" 2>/dev/null || true
	wait "$rec" 2>/dev/null || true
	[ -z "$bench" ] || wait "$bench" 2>/dev/null || true
	pg_kill
	if [ "$victim" = daemon ]; then
		unstall
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
		client_mount
	fi
	pg_start
	pg_check "$victim${stall:+, the engine stalled}"
}

pg_check() {
	local acked missing
	acked=$(wc -l <"$T/acked")
	psql_ -c "SELECT id FROM ack" | sort >"$T/present"
	missing=$(sort "$T/acked" | comm -23 - "$T/present" | wc -l)
	pg "$PGBIN/pg_amcheck" -h "$T/sock" -p "$PGPORT" -U postgres --heapallindexed \
		--install-missing postgres >"$T/amcheck.log" 2>&1
	local amrc=$?
	report "kill -9 $1: $acked acknowledged commits checked, $missing missing, pg_amcheck --heapallindexed exit $amrc"
	echo "# PostgreSQL, kill -9 $1: $acked acknowledged commits checked, $missing missing, pg_amcheck --heapallindexed exit $amrc" >&3
	[ "$acked" -gt 0 ] || { echo "no commit was acknowledged"; return 1; }
	[ "$missing" -eq 0 ] || { echo "$missing acknowledged commits lost"; return 1; }
	[ "$amrc" -eq 0 ] || { cat "$T/amcheck.log"; return 1; }
}

pg_prepare() { # scale
	pg_start
	pg "$PGBIN/pgbench" -h "$T/sock" -p "$PGPORT" -i -q -s "$1" postgres >"$T/pgbench-init.log" 2>&1 ||
		{ cat "$T/pgbench-init.log"; return 1; }
	psql_ -c "CREATE TABLE ack (id serial PRIMARY KEY, v text)"
}

# --- SQLite -----------------------------------------------------------------
# sqlite_start MODE [SYNC]: a writer commits rows to $MNT/sq-MODE.db in
# journal mode MODE with synchronous=SYNC (default FULL) and logs the id of
# each acknowledged row to $T/sq-acked (outside the mount) once its COMMIT
# has returned; returns once 5 are logged ($sq_writer: its pid).
# The writer and the checks run in $sq_dir (default $MNT), through the
# command prefix in the array sq_on (default none: e.g. on_host A).
sqlite_start() {
	sq_db="${sq_dir:-$MNT}/sq-$1.db"
	"${sq_on[@]}" python3 "$CLIENTS_DIR/sqlite_writer.py" "$sq_db" "$1" "${2:-FULL}" \
		>"$T/sq-acked" 2>"$T/sq.err" &
	sq_writer=$!
	# The kill comes while rows are being committed: after the first ones
	# are acknowledged (a fixed 1.5 s was, under load 8, before the table
	# existed).
	for _ in $(seq 600); do
		[ "$(grep -c . "$T/sq-acked" 2>/dev/null)" -ge 5 ] && return 0
		kill -0 "$sq_writer" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/sq.err"
	return 1
}

# sqlite_kill VICTIM: kill -9 of the writer, or of the daemon (then the
# remount) while the writer runs; the writer is gone afterwards.
sqlite_kill() {
	if [ "$1" = daemon ]; then
		kill_daemon_and_remount
	else
		kill -9 "$sq_writer"
	fi
	wait "$sq_writer" 2>/dev/null || true
}

# sqlite_check WHAT: every row the writer logged is in the database, and
# PRAGMA integrity_check says ok; one line to the report either way.
sqlite_check() {
	local acked missing integrity
	acked=$(grep -c . "$T/sq-acked" || true)
	"${sq_on[@]}" sqlite3 "$sq_db" "SELECT id FROM t" | sort >"$T/sq-present"
	missing=$(sort "$T/sq-acked" | comm -23 - "$T/sq-present" | wc -l)
	integrity=$("${sq_on[@]}" sqlite3 "$sq_db" "PRAGMA integrity_check")
	report "SQLite $1: $acked acknowledged rows checked, $missing missing, integrity_check $integrity"
	echo "# SQLite $1: $acked acknowledged rows checked, $missing missing, integrity_check $integrity" >&3
	[ "$acked" -gt 0 ] || { echo "no row was acknowledged"; return 1; }
	[ "$missing" -eq 0 ] || { echo "$missing acknowledged rows lost"; return 1; }
	[ "$integrity" = ok ] || { echo "integrity_check: $integrity"; return 1; }
}

# sqlite_round MODE VICTIM: a writer commits rows with synchronous=FULL;
# kill -9 of the writer or of the daemon a moment after the first commits.
sqlite_round() {
	sqlite_start "$1"
	sleep 0.5
	sqlite_kill "$2"
	sqlite_check "$1, kill -9 $2"
}

# sqlite_stalled_round MODE SYNC SUFFIX (shared mounts): the writer with
# synchronous=SYNC, the engine stalled on the backing file of the database
# (SUFFIX "") or of its WAL ("-wal") for a second, kill -9 of the daemon.
# $sq_stalled: the commits acknowledged during the stall.
sqlite_stalled_round() {
	sqlite_start "$1" "$2"
	stall_backing "$(basename "$sq_db")$3" "$T/sq-acked"
	sleep 1
	sq_stalled=$(($(grep -c . "$T/sq-acked") - stall_mark))
	sqlite_kill daemon
	sqlite_check "$1, synchronous=$2, kill -9 of the daemon, the engine stalled on sq-$1.db$3 ($sq_stalled commits acknowledged meanwhile)"
}

# --- fio --------------------------------------------------------------------
# fio_region FILE K write|verify: region K (2 MiB at K * 2 MiB) of FILE,
# written sequentially in buffered 64 KiB writes in fio's crc32c verify
# format, read back and checked, and fsync'd before fio exits (write); or
# only checked (verify: fio --verify_only, the same job). FILE must be at
# least as long as the regions (else fio lays it out anew, zeros over the
# regions before).
fio_region() {
	local opts=(--name=r --filename="$1" --rw=write --bs=64k --offset=$(($2 << 21)) --size=2M
		--ioengine=psync --direct=0 --verify=crc32c --verify_fatal=1 --verify_state_save=0
		--output="$T/fio-$3-$2.log")
	if [ "$3" = write ]; then
		fio "${opts[@]}" --do_verify=1 --end_fsync=1
	else
		fio "${opts[@]}" --verify_only
	fi
}

# fio_regions FILE: regions 0, 1, ... until one fails or $T/fio-stop
# exists; each K is logged to $T/fio-acked once fio (its fsync) returned.
fio_regions() {
	local k=0
	: >"$T/fio-acked"
	while [ ! -e "$T/fio-stop" ] && fio_region "$1" $k write; do
		echo $k >>"$T/fio-acked"
		k=$((k + 1))
	done
}

# fio_verify_acked FILE: every region in $T/fio-acked checks.
fio_verify_acked() {
	local k bad=0
	while read -r k; do
		fio_region "$1" "$k" verify || {
			echo "region $k does not verify:"
			grep -A3 'verify' "$T/fio-verify-$k.log" | head -n 8
			bad=$((bad + 1))
		}
	done <"$T/fio-acked"
	echo "# fio: $(grep -c . "$T/fio-acked") fsync'd regions of 2 MiB verified, $bad bad" >&3
	[ "$bad" -eq 0 ]
}

# --- copies -----------------------------------------------------------------
# A tree with what archivers must carry: hard links, symlinks, a sparse file,
# a FIFO, a device node, setuid/setgid/sticky bits, nanosecond times, user
# xattrs, POSIX ACLs (access and default), odd names.
make_tree() {
	local d=$1
	mkdir -p "$d/sub/deeper" "$d/sticky"
	head -c 300000 /dev/urandom >"$d/data"
	ln "$d/data" "$d/sub/hardlink"
	ln -s ../data "$d/sub/link"
	ln -s /nonexistent/target "$d/dangling"
	truncate -s 64M "$d/sparse"
	printf 'middle' | dd of="$d/sparse" bs=1 seek=$((20 * 1024 * 1024)) conv=notrunc status=none
	printf 'end' >>"$d/sparse"
	mkfifo "$d/fifo"
	mknod "$d/chardev" c 1 3
	echo s >"$d/setuid" && chmod 4755 "$d/setuid"
	chmod 1777 "$d/sticky"
	chmod 2775 "$d/sub/deeper"
	printf 'x' >"$d/ - odd name with spaces"
	printf 'y' >"$d/$(printf 'new\nline')"
	printf 'z' >"$d/été-日本-🙂"
	printf 'l' >"$d/$(printf 'L%.0s' $(seq 250))"
	: >"$d/empty"
	setfattr -n user.comment -v "lab sample 42" "$d/data"
	setfattr -n user.bin -v 0x00ff00 "$d/sub/deeper"
	setfacl -m u:postgres:r,g:postgres:rw "$d/data"
	setfacl -d -m u:postgres:rx "$d/sub"
	chown 1234:5678 "$d/sub/link" -h
	chown 4321:8765 "$d/empty"
	touch -d '2021-03-04 05:06:07.123456789' "$d/data" "$d/empty"
	touch -h -d '2020-01-02 03:04:05.987654321' "$d/sub/link"
	touch -d '2019-05-06 07:08:09.555555555' "$d/sub/deeper" "$d/sticky"
}

# copy_to TOOL FROM TO: rsync -aHAXS or tar --xattrs --acls -S, as a backup would.
copy_to() {
	mkdir -p "$3"
	case $1 in
	rsync) rsync -aHAXS "$2/" "$3/" ;;
	tar) tar --xattrs --xattrs-include='user.*' --acls -S -cf - -C "$2" . |
		tar --xattrs --xattrs-include='user.*' --acls -xpf - -C "$3" ;;
	esac
}

# Round trip ext4 -> mount -> ext4 with TOOL, each leg compared field by
# field with the source; a difference counts only if the same copy between
# two plain directories does not show it (what the tool itself keeps).
copy_roundtrip() {
	local tool=$1
	# Device nodes in the mount need allow_dev (refused by default).
	unmount_vault
	mount_vault -o allow_other,allow_dev
	make_tree "$T/src"
	copy_to "$tool" "$T/src" "$T/ref1"
	copy_to "$tool" "$T/ref1" "$T/ref2"
	python3 "$CLIENTS_DIR/treecmp.py" "$T/src" "$T/ref1" --keys >"$T/allow1"
	python3 "$CLIENTS_DIR/treecmp.py" "$T/src" "$T/ref2" --keys >"$T/allow2"
	copy_to "$tool" "$T/src" "$MNT/copy"
	unmount_vault
	mount_vault -o allow_other,allow_dev
	copy_to "$tool" "$MNT/copy" "$T/back"
	python3 "$CLIENTS_DIR/treecmp.py" "$T/src" "$MNT/copy" --allow "$T/allow1"
	python3 "$CLIENTS_DIR/treecmp.py" "$T/src" "$T/back" --allow "$T/allow2"
	report "$tool round trip ext4 -> lethefs -> ext4: $(find "$T/src" | wc -l) entries identical in every field the same copy keeps on ext4 ($(wc -l <"$T/allow2") fields it does not keep there either)"
}

# A file still open for writing (nothing synced) copied by TOOL out of the
# mount: the copy holds its data.
copy_live_file() {
	local tool=$1
	python3 - "$MNT/live" "$T/livecopy" "$tool" <<'PY'
import os, subprocess, sys
src, dst, tool = sys.argv[1:4]
data = os.urandom(1 << 20) + b"tail"
fd = os.open(src, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data)
os.makedirs(dst, exist_ok=True)
if tool == "rsync":
    subprocess.run(["rsync", "-aS", src, dst + "/"], check=True)
else:
    subprocess.run("tar -cSf - -C %s live | tar -xSf - -C %s" % (os.path.dirname(src), dst),
                   shell=True, check=True)
with open(dst + "/live", "rb") as f:
    assert f.read() == data, "the copy of the live file differs"
os.close(fd)
PY
}
