#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The real clients of 29-clients.bats on a shared mount (-o shared, whose
# write-behind acknowledges WRITEs before they reach the engine: docs/SHARED.md,
# "Databases") of a vault in a local directory: SQLite (WAL and DELETE,
# synchronous=FULL) and PostgreSQL with kill -9 of the client and of the
# daemon, also while the engine stalls with writes queued (stall_backing,
# helpers.bash); fio --verify of fsync'd regions after a kill -9 of the
# daemon; SQLite written on one host and read on another, and opened on
# another after the writing host's daemon was killed. Every commit
# acknowledged is there, the databases' own checks pass, fsck is clean. Each
# check also runs once where it must fail (the client's fsync switched
# off, a block zeroed) and must fail there. About 60-90 s.

load ../clients/lib
load hosts

setup() {
	LETHEFS_CLIENT_OPTS=shared
	setup_client_vault
}
teardown() {
	pg_stop
	# Writers a failed test left running: SQLite's, fio's, the two hosts'.
	[ -z "${sq_writer:-}" ] || kill -9 "$sq_writer" 2>/dev/null || true
	touch "$T/fio-stop"
	[ ! -d "$T/sig" ] || touch "$T/sig/stop"
	unstall
	[ -z "${HOSTS_DIR:-}" ] || hosts_stop "lethefs mount .*$VAULT" sqsA sqsB || true
	teardown_vault
}

# Hosts sqsA and sqsB (hosts.bash) instead of this host's mount, each with
# the vault mounted -o shared at $T/mA and $T/mB.
two_hosts() {
	unmount_vault
	HOSTS_DIR=$T
	hosts_start sqsA sqsB
	mkdir -p "$T/mA" "$T/mB" "$T/sig"
	for h in A B; do
		on_host sqs$h "$LETHEFS" mount -o shared --passfile "$T/pass" "$VAULT" "$T/m$h"
	done
}

umount_hosts() {
	for h in A B; do
		if on_host sqs$h awk -v m="$T/m$h" '$2 == m {f = 1} END {exit !f}' /proc/self/mounts; then
			on_host sqs$h "$LETHEFS" umount "$T/m$h" 2>/dev/null ||
				on_host sqs$h umount -l "$T/m$h"
		fi
	done
}

# sqlite_failover MODE SYNC [stall]: host A's writer (sqlite_start) has
# its daemon killed (kill -9; with stall, after a second of its engine
# stalled on the database's WAL); then host B, which kept its mount, opens
# the database: every commit host A acknowledged must be there
# (sqlite_check). Then host A mounts again.
sqlite_failover() {
	sq_dir=$T/mA sq_on=(on_host sqsA)
	sqlite_start "$1" "$2"
	if [ "${3:-}" = stall ]; then
		stall_file "$(find "$VAULT/d" -inum "$(on_host sqsA stat -c %i "$sq_db-wal")")" "$T/sq-acked"
		sleep 1
	else
		sleep 0.5
	fi
	kill -9 "$(pgrep -f "lethefs mount .*$T/mA" | head -n1)"
	wait "$sq_writer" || true
	unstall
	sq_db=$T/mB/sq-$1.db sq_on=(on_host sqsB)
	# Host B recovers host A's journal records 5 s after A's lease lapsed
	# (docs/SHARED.md): until then a block A left half written may not
	# read (not seen in 14 runs of each mode; tried for 10 s).
	local i
	for i in $(seq 20); do
		"${sq_on[@]}" sqlite3 "$sq_db" "PRAGMA quick_check" >/dev/null 2>"$T/sqB.err" && break
		echo "# host B, try $i: $(cat "$T/sqB.err")" >&3
		sleep 0.5
	done
	local rc=0
	sqlite_check "$1, synchronous=$2, host A's daemon killed${3:+ with its engine stalled}, read on host B" || rc=$?
	on_host sqsA fusermount3 -u "$T/mA" 2>/dev/null || on_host sqsA umount -l "$T/mA"
	on_host sqsA "$LETHEFS" mount -o shared --passfile "$T/pass" "$VAULT" "$T/mA"
	return $rc
}

@test "shared: SQLite WAL and DELETE with synchronous=FULL: kill -9 of the writer and of the daemon, also with the engine stalled; fsck clean" {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
	sqlite_round wal writer
	sqlite_round wal daemon
	sqlite_stalled_round wal FULL -wal
	sqlite_round delete writer
	sqlite_round delete daemon
	sqlite_stalled_round delete FULL ""
	unmount_vault
	fsck_clean
}

@test "shared: the SQLite check sees the loss of commits acknowledged without fsync (synchronous=OFF, engine stalled, kill -9 of the daemon)" {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
	run sqlite_stalled_round wal OFF -wal
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"acknowledged rows lost"* ]]
}

@test "shared: PostgreSQL: initdb on the mount, kill -9 of the postmaster and of the daemon under pgbench, also with the engine stalled on the WAL: no acknowledged commit lost; with fsync = off the check sees the loss" {
	[ -x "$PGBIN/initdb" ] || skip "PostgreSQL server binaries not installed (scripts/install-deps.sh)"
	pg_init
	pg_prepare 1
	pg_round postmaster 1
	pg_round daemon 1
	pg_round daemon 1 stall
	# (An O_DIRECT WAL, written around the queue, passed too: the
	# open_datasync test of tests/clients/postgres.bats with
	# LETHEFS_CLIENT_OPTS=shared, 2026-12-07; left out here for time.)
	# The same check where it must fail: commits acknowledged without
	# fsync (the recorder alone: its WAL writes, which no fsync waits
	# for, are acknowledged while the stalled queue takes them).
	pg_stop
	pg_conf "fsync = off"
	pg_start
	PG_BENCH=0
	run pg_round daemon 1 stall
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"acknowledged commits lost"* ]]
	pg_stop
	unmount_vault
	fsck_clean
}

@test "shared: fio --verify crc32c, buffered, region by region with fsync; kill -9 of the daemon mid-run; every fsync'd region verifies; fsck clean" {
	command -v fio >/dev/null || skip "fio not installed"
	truncate -s 256M "$MNT/fio"
	fio_regions "$MNT/fio" &
	local writer=$!
	for _ in $(seq 400); do
		[ "$(grep -c . "$T/fio-acked" 2>/dev/null)" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(grep -c . "$T/fio-acked")" -ge 3 ]
	sleep 0.3
	kill_daemon_and_remount
	touch "$T/fio-stop"
	wait "$writer" || true
	fio_verify_acked "$MNT/fio"
	# The check fails on a region that lost a write: the last 64 KiB
	# block of the first region as the engine had it before (zeros).
	dd if=/dev/zero of="$MNT/fio" bs=64k seek=31 count=1 conv=notrunc,fsync status=none
	run fio_verify_acked "$MNT/fio"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"region 0 does not verify"* ]]
	unmount_vault
	fsck_clean
}

@test "shared: SQLite on two hosts: host A commits in journal_mode=DELETE, host B reads each commit consistently (a kept and a new connection)" {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
	two_hosts
	on_host sqsA python3 "$CLIENTS_DIR/sqlite_hosts.py" writer "$T/mA/db" 20 "$T/sig" &
	local w=$!
	run on_host sqsB python3 "$CLIENTS_DIR/sqlite_hosts.py" reader "$T/mB/db" 20 "$T/sig"
	echo "$output"
	wait "$w"
	[ "$status" -eq 0 ]
	[[ "$output" == *"20 rounds read consistently"* ]]
	umount_hosts
	fsck_clean
}

@test "shared: SQLite on two hosts: the reader's check sees a commit that never left host A (no journal, synchronous=OFF, host A's engine stalled)" {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
	two_hosts
	on_host sqsA env SQ_JOURNAL=OFF SQ_SYNC=OFF \
		python3 "$CLIENTS_DIR/sqlite_hosts.py" writer "$T/mA/db" 3 "$T/sig" &
	local w=$!
	wait_for_file "$T/sig/committed.0"
	# Round 1's writes stay in host A's queue: its COMMIT returns anyway.
	stall_file "$(find "$VAULT/d" -inum "$(on_host sqsA stat -c %i "$T/mA/db")")"
	run on_host sqsB python3 "$CLIENTS_DIR/sqlite_hosts.py" reader "$T/mB/db" 3 "$T/sig"
	echo "$output"
	# (The writer's close(2) waits for its queue: the stall ends first.)
	touch "$T/sig/stop"
	unstall
	wait "$w" || true
	[ "$status" -ne 0 ]
	[[ "$output" == *"round 1, kept connection: got (0, 0, 0, 0, 'ok')"* ]]
	umount_hosts
	fsck_clean
}

@test "shared: SQLite on two hosts: host A's daemon killed while it commits (WAL, also with its engine stalled; DELETE), host B opens the database: every acknowledged commit is there; with synchronous=OFF and A's engine stalled the check sees the loss" {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
	two_hosts
	sqlite_failover wal FULL
	sqlite_failover wal FULL stall
	sqlite_failover delete FULL
	run sqlite_failover wal OFF stall
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"acknowledged rows lost"* ]]
	umount_hosts
	fsck_clean
}
