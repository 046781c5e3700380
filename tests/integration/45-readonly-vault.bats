#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A vault on read-only storage (a snapshot, a read-only NFS export, a
# backup mounted for inspection): `mount -o ro` serves it, security events
# go to the system log only and the mount says so, a read-write mount is
# refused with the reason, and fsck checks it without writing (issue 12).

load helpers

setup() {
	setup_vault
	RO=$T/ro
	mkdir -p "$RO"
}
teardown() {
	"$LETHEFS" umount "$MNT" 2>/dev/null || fusermount3 -u "$MNT" 2>/dev/null || true
	mountpoint -q "$RO" && umount "$RO"
	teardown_vault
}

# The vault, seen through a read-only bind mount.
readonly_view() {
	mount --bind "$VAULT" "$RO"
	mount -o remount,bind,ro "$RO"
}

@test "a used vault on read-only storage mounts with -o ro and reads back" {
	mount_vault
	head -c 100000 /dev/urandom >"$T/data"
	cp "$T/data" "$MNT/f"
	mkdir "$MNT/d"
	ln -s f "$MNT/l"
	"$LETHEFS" umount "$MNT"
	readonly_view
	sums_before=$(cd "$VAULT" && find . -type f -exec sha256sum {} + | sort)
	run "$LETHEFS" mount --passfile "$T/pass" -o ro "$RO" "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"read-only storage: audit entries go to the system log only"* ]]
	cmp "$T/data" "$MNT/f"
	[ "$(readlink "$MNT/l")" = f ]
	run touch "$MNT/new"
	[ "$status" -ne 0 ]
	"$LETHEFS" umount "$MNT"
	[ "$(cd "$VAULT" && find . -type f -exec sha256sum {} + | sort)" = "$sums_before" ]
	run "$LETHEFS" fsck --passfile "$T/pass" "$RO"
	[ "$status" -eq 0 ]
}

@test "a never-mounted vault on read-only storage mounts with -o ro" {
	readonly_view
	run "$LETHEFS" mount --passfile "$T/pass" -o ro "$RO" "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$MNT")" ]
}

@test "a read-write mount of a read-only vault is refused with the reason" {
	mount_vault
	echo x >"$MNT/f"
	"$LETHEFS" umount "$MNT"
	readonly_view
	run "$LETHEFS" mount --passfile "$T/pass" "$RO" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"read-only storage: mount it with -o ro"* ]]
	assert_not_mounted "$MNT"
}
