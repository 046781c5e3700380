#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Seeded random operations applied to the mount and to a plain reference
# tree; the trees must stay identical. A failing seed reproduces exactly.

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

@test "random operations (seed 1) leave mount and reference identical" {
	run python3 "$BATS_TEST_DIRNAME/exerciser.py" "$MNT" "$REF" 1 1500
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "random operations (seed 2), then remount, still identical" {
	run python3 "$BATS_TEST_DIRNAME/exerciser.py" "$MNT" "$REF" 2 1500
	echo "$output"
	[ "$status" -eq 0 ]
	unmount_vault
	mount_vault
	diff -r "$MNT" "$REF"
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "random operations without the writeback cache (seed 3)" {
	unmount_vault
	mount_vault -o no_writeback_cache
	run python3 "$BATS_TEST_DIRNAME/exerciser.py" "$MNT" "$REF" 3 1000
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "random operations with a tiny descriptor budget (seed 4): parked inodes reopen correctly" {
	unmount_vault
	(ulimit -n 100 && mount_vault)
	run python3 "$BATS_TEST_DIRNAME/exerciser.py" "$MNT" "$REF" 4 1500
	echo "$output"
	[ "$status" -eq 0 ]
}
