#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The short real-client suite (issue 21), one round of each: PostgreSQL
# (kill -9 of the postmaster and of the daemon under pgbench, then an
# O_DIRECT WAL), SQLite (WAL and DELETE), rsync and tar round trips, git, fio.
# The full suite, several rounds each: make test-clients (tests/clients/).

load ../clients/lib

setup() {
	# Tests named "-o iattr" run on a mount with inode attributes
	# (FORMAT.md 14.9; opt-in): the files' mode and owner in a backing xattr.
	[[ "$BATS_TEST_DESCRIPTION" == *"-o iattr"* ]] && LETHEFS_CLIENT_OPTS=iattr
	setup_client_vault
}
teardown() {
	pg_stop
	teardown_vault
}

@test "PostgreSQL: kill -9 of the postmaster and of the daemon, then an O_DIRECT WAL: no acknowledged commit lost" {
	[ -x "$PGBIN/initdb" ] || skip "PostgreSQL server binaries not installed (scripts/install-deps.sh)"
	pg_init
	pg_prepare 1
	pg_round postmaster 2
	pg_round daemon 2
	pg_stop
	pg_conf "wal_sync_method = open_datasync" "wal_level = minimal" "max_wal_senders = 0"
	pg_start
	[ "$(psql_ -c 'SHOW wal_sync_method')" = open_datasync ]
	pg_round postmaster 2
	pg_stop
}

@test "SQLite WAL and DELETE with synchronous=FULL: kill -9 of the writer and of the daemon" {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
	sqlite_round wal writer
	sqlite_round delete daemon
}

@test "rsync -aHAXS round trip and tar -S of a file still being written" {
	copy_roundtrip rsync
	copy_live_file tar
}

@test "-o iattr: SQLite with kill -9 of the daemon, and an rsync -aHAXS round trip" {
	command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
	sqlite_round wal daemon
	copy_roundtrip rsync
	# The files were made with attributes (those with ACLs or xattrs of
	# their own keep their header record: FORMAT.md 14.9).
	n=$(find "$VAULT/d" -type f -exec getfattr -n user.l {} + 2>/dev/null | grep -c '^user.l=' || true)
	echo "backing files with an attribute: $n"
	[ "$n" -ge 1 ]
}

@test "git clone, fsck --full and gc; fio --verify with buffered and O_DIRECT jobs on one file" {
	local src
	src=$(git -C "$BATS_TEST_DIRNAME" rev-parse --show-toplevel)
	git clone -q --no-local "$src" "$MNT/repo"
	git -C "$MNT/repo" fsck --full --strict
	git -C "$MNT/repo" gc -q --prune=now
	git -C "$MNT/repo" fsck --full --strict
	[ "$(git -C "$MNT/repo" rev-parse HEAD)" = "$(git -C "$src" rev-parse HEAD)" ]
	fio --filename="$MNT/mixed" --bs=4k --ioengine=psync --rw=randwrite \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--name=buffered --direct=0 --offset=0 --size=8M \
		--name=direct --direct=1 --offset=8M --size=8M --output="$T/mixed.log"
	[ "$(grep -c 'err= 0' "$T/mixed.log")" -eq 2 ]
}
