#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# PostgreSQL on the mount (issue 21): initdb as user postgres, pgbench load,
# kill -9 of the postmaster and of the lethefs daemon while a client records
# every acknowledged commit; after each round every acknowledged commit is
# there and pg_amcheck --heapallindexed is clean. CLIENT_ROUNDS rounds of
# each kill (default 5).

load lib

ROUNDS=${CLIENT_ROUNDS:-5}

setup() {
	[ -x "$PGBIN/initdb" ] || skip "PostgreSQL server binaries not installed (scripts/install-deps.sh)"
	setup_client_vault
}
teardown() {
	pg_stop
	teardown_vault
}

@test "kill -9 of the postmaster and of the lethefs daemon under pgbench: no acknowledged commit lost" {
	pg_init
	pg_prepare 2
	for i in $(seq "$ROUNDS"); do
		pg_round postmaster $((2 + i % 3))
		pg_round daemon $((2 + (i + 1) % 3))
	done
	pg_stop
}

@test "wal_sync_method=open_datasync (O_DIRECT WAL with wal_level=minimal) starts, commits and survives kill -9" {
	pg_init "wal_sync_method = open_datasync" "wal_level = minimal" "max_wal_senders = 0"
	pg_prepare 1
	[ "$(psql_ -c 'SHOW wal_sync_method')" = open_datasync ]
	# The WAL writer really opens its segments with O_DIRECT.
	strace -f -e trace=openat -p "$PGPID" -o "$T/strace.log" &
	local st=$!
	sleep 0.5
	pg "$PGBIN/pgbench" -h "$T/sock" -p "$PGPORT" -c 2 -T 3 -n postgres >"$T/pgbench.log" 2>&1
	kill "$st"
	wait "$st" 2>/dev/null || true
	grep 'pg_wal/0' "$T/strace.log" | grep -q O_DIRECT
	for i in $(seq "$ROUNDS"); do
		pg_round postmaster 2
	done
	pg_round daemon 2
	pg_stop
}
