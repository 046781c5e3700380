#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The backing-store writer (docs/THREAT-MODEL.md) replaces a file the vault
# itself reads (a directory's .lethefs.dir, a long symlink's sidecar, an
# adoption's pending metadata) with a FIFO. An open() of a FIFO waits for a
# writer that never comes: the mount, a lookup or fsck would hang instead
# of failing. Each must fail at once with a clear error.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

@test "attack: a FIFO as a directory's .lethefs.dir: EIO, not a hang; fsck reports it" {
	mount_vault
	mkdir "$MNT/sub"
	echo x >"$MNT/sub/f"
	echo kept >"$MNT/keep"
	local sub
	sub=$(backing_of sub)
	unmount_vault
	rm "$sub/.lethefs.dir"
	mkfifo "$sub/.lethefs.dir"
	timeout -s KILL 30 "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	run timeout -s KILL 10 ls "$MNT/sub"
	echo "$output"
	[ "$status" -ne 124 ]
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	[ "$(cat "$MNT/keep")" = kept ]
	unmount_vault
	run timeout 60 "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"directory metadata missing or corrupt"* ]]
}

@test "attack: a FIFO as a long symlink's sidecar: readlink fails with EIO, not a hang" {
	INIT_ARGS=(--format 1)
	teardown_vault
	setup_vault
	mount_vault
	local t
	t=$(python3 -c "print(('/seg-' * 800)[:3999] + 'Z')")
	ln -s "$t" "$MNT/long"
	unmount_vault
	local side
	side=$(find "$VAULT/d" -maxdepth 1 -name '.lethefs.link.*' -type f)
	[ -n "$side" ]
	rm "$side"
	mkfifo "$side"
	mount_vault
	run timeout -s KILL 10 readlink "$MNT/long"
	echo "$output"
	[ "$status" -ne 124 ]
	[ "$status" -ne 0 ]
	unmount_vault
	run timeout 60 "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
}

@test "attack: a FIFO as the audit log: the mount refuses it at once, naming it" {
	mount_vault
	echo x >"$MNT/f"
	unmount_vault
	rm "$VAULT/lethefs.audit"
	mkfifo "$VAULT/lethefs.audit"
	run timeout -s KILL 30 "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -ne 137 ]
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot open the audit log"*"not a regular file"* ]]
	run timeout -s KILL 30 "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -ne 137 ]
	[ "$status" -ne 0 ]
	rm "$VAULT/lethefs.audit"
}
