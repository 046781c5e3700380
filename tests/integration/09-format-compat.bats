#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Saved example vaults of every released format version must keep opening:
# tests/data/format-v1-vault.tar.gz was made by the first format-1 build and
# holds a UTF-8 directory, a file ending past a block boundary, a hard link,
# a symlink, a 20 MiB sparse file, a 250-byte name, a FIFO and an xattr.

load helpers

setup() {
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	DATA=$BATS_TEST_DIRNAME/../data
	tar --xattrs --xattrs-include='user.*' -C "$T" -xzf "$DATA/format-v1-vault.tar.gz"
	VAULT=$T/fv
	MNT=$T/mnt
	mkdir "$MNT"
	cp "$DATA/format-v1.pass" "$T/pass"
}
teardown() { teardown_vault; }

@test "a format-1 vault from the first release mounts and reads back exactly" {
	run "$LETHEFS" info "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"format:   1"* ]]
	mount_vault
	diff <(cd "$MNT" && find . -printf '%y %p\n' | sort) "$DATA/format-v1.listing"
	diff <(cd "$MNT" && find . -type f -exec sha256sum {} + | sort) "$DATA/format-v1.sha256"
	[ "$(getfattr -n user.origin --only-values "$MNT/Résultats/2026/batch.csv")" = lab-7 ]
	[ "$(readlink "$MNT/latest")" = "Résultats/2026/batch.csv" ]
	[ "$(stat -c %h "$MNT/hardlink")" -eq 2 ]
}

@test "a format-1 vault passes fsck" {
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

# tests/data/format-v2-vault.tar.gz was made by the first format-2 build
# (tests/data/make-format-v2.sh): besides the format-1 example's contents,
# modes with set-ID and sticky bits, other owners and groups, a character
# device, a socket, a 4,000-byte symlink target and an ACL, all of them in
# its authenticated records.
open_v2() {
	tar --xattrs --xattrs-include='user.*' -C "$T" -xzf "$DATA/format-v2-vault.tar.gz"
	VAULT=$T/fv2
	cp "$DATA/format-v2.pass" "$T/pass"
}

@test "a format-2 vault from the first format-2 release mounts and reads back exactly" {
	open_v2
	run "$LETHEFS" info "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"format:   2"* ]]
	mount_vault -o allow_dev
	diff <(cd "$MNT" && find . -printf '%y %m %U %G %p\n' | LC_ALL=C sort) "$DATA/format-v2.listing"
	diff <(cd "$MNT" && find . -type f -exec sha256sum {} + | LC_ALL=C sort) "$DATA/format-v2.sha256"
	[ "$(getfattr -n user.origin --only-values "$MNT/Résultats/2026/batch.csv")" = lab-7 ]
	[ "$(readlink "$MNT/latest")" = "Résultats/2026/batch.csv" ]
	[ "$(readlink "$MNT/long-link" | wc -c)" -eq 4001 ]
	[ "$(stat -c %h "$MNT/hardlink")" -eq 2 ]
	[ "$(stat -c %t:%T "$MNT/null-device")" = 1:3 ]
	getfacl -n "$MNT/with-acl" | grep -qx "user:4321:r--"
	# Every backing object: one owner, fixed modes.
	[ -z "$(find "$VAULT/d" -mindepth 1 ! -user root)" ]
	[ -z "$(find "$VAULT/d" -mindepth 1 -type f ! -name '.N*' ! -perm 0600)" ]
	[ -z "$(find "$VAULT/d" -mindepth 1 -type d ! -perm 0700)" ]
	[ -z "$(find "$VAULT/d" ! -type f ! -type d)" ]
}

@test "a format-2 vault passes fsck" {
	open_v2
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}
