#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A full backing filesystem: writes fail with ENOSPC, and nothing that was
# already stored is damaged.

load helpers

setup() {
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	mkdir -p "$T/small"
	mount -t tmpfs -o size=8m tmpfs "$T/small"
	VAULT=$T/small/vault
	MNT=$T/mnt
	mkdir -p "$MNT"
	printf '%s\n' "$PASS" >"$T/pass"
	"$LETHEFS" init --passfile "$T/pass" --kdf-ops 1 --kdf-mem 8M "$VAULT" >/dev/null
	mount_vault
}
teardown() {
	unmount_vault || true
	umount "$T/small"
	rm -rf "$T"
}

@test "ENOSPC is reported and existing files stay intact and authentic" {
	head -c 3000000 /dev/urandom >"$T/keep"
	cp "$T/keep" "$MNT/keep"
	printf 'log line\n' >"$MNT/log"
	sync
	# Fill the disk: dd must fail, through the writeback cache at the latest
	# at fsync.
	run dd if=/dev/urandom of="$MNT/filler" bs=64k count=200 conv=fsync
	[ "$status" -ne 0 ]
	[[ "$output" == *"No space left on device"* ]]
	# Appending to an existing file on a full disk fails cleanly...
	run sh -c "head -c 200000 /dev/urandom >> '$MNT/log' && sync '$MNT/log'"
	[ "$status" -ne 0 ]
	# ...and frees nothing it should not: existing data reads back.
	cmp "$T/keep" "$MNT/keep"
	rm -f "$MNT/filler"
	head -c 9 "$MNT/log" | grep -q "log line"
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}
