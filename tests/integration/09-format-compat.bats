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
