#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# SQLite on the mount (issue 21): WAL and DELETE journal modes with
# synchronous=FULL, kill -9 of the writer and of the lethefs daemon; every
# acknowledged row is there and PRAGMA integrity_check says ok.
# CLIENT_ROUNDS rounds of each (default 5).

load lib

ROUNDS=${CLIENT_ROUNDS:-5}

setup() {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed (scripts/install-deps.sh)"
	setup_client_vault
}
teardown() { teardown_vault; }

@test "WAL mode: kill -9 of the writer and of the daemon lose no acknowledged row" {
	for _ in $(seq "$ROUNDS"); do
		sqlite_round wal writer
		sqlite_round wal daemon
	done
}

@test "DELETE mode: kill -9 of the writer and of the daemon lose no acknowledged row" {
	for _ in $(seq "$ROUNDS"); do
		sqlite_round delete writer
		sqlite_round delete daemon
	done
}
