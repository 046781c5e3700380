#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The real clients of 29-clients.bats on a shared mount (-o shared, whose
# write-behind acknowledges WRITEs before they reach the engine: docs/SHARED.md)
# of a vault in a local directory.

load ../clients/lib

setup() {
	LETHEFS_CLIENT_OPTS=shared
	setup_client_vault
}
teardown() {
	pg_stop
	unstall
	teardown_vault
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

@test "shared: PostgreSQL: initdb on the mount, kill -9 of the postmaster and of the daemon under pgbench, also with the engine stalled on the WAL: no acknowledged commit lost" {
	[ -x "$PGBIN/initdb" ] || skip "PostgreSQL server binaries not installed (scripts/install-deps.sh)"
	pg_init
	pg_prepare 1
	pg_round postmaster 2
	pg_round daemon 2
	pg_round daemon 1 stall
	pg_stop
	unmount_vault
	fsck_clean
}

@test "shared: the PostgreSQL check sees the loss of commits acknowledged without fsync (fsync = off, engine stalled, kill -9 of the daemon)" {
	[ -x "$PGBIN/initdb" ] || skip "PostgreSQL server binaries not installed (scripts/install-deps.sh)"
	pg_init "fsync = off"
	pg_start
	psql_ -c "CREATE TABLE ack (id serial PRIMARY KEY, v text)"
	# The recorder alone: its commits, each a WAL write that no fsync
	# waits for, are acknowledged while the queue takes them.
	PG_BENCH=0
	run pg_round daemon 1 stall
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"acknowledged commits lost"* ]]
}
