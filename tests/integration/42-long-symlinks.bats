#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Symlink targets up to 4,095 bytes (ext4's limit): in format 1, those whose
# encoding no longer fits a backing symlink keep it in a sidecar file in the
# tree's root (FORMAT.md 8.1). Compared with a plain directory, across
# remount, rotation and staging; sidecars never leak and never hold
# plaintext. (Format 2 stores every target as file contents, with no
# sidecar: 45-format2.bats.)

load helpers

setup() {
	INIT_ARGS=(--format 1)
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

# A target of exactly $1 bytes (a path, so it is also a valid one).
target() { python3 -c "import sys; n=int(sys.argv[1]); print(('/seg-' * n)[:n-1] + 'Z')" "$1"; }

sidecars() { find "$VAULT/d" -maxdepth 1 -name '.lethefs.link.*' -type f; }
links_store() { sidecars | wc -l; }

@test "targets of 3,031, 3,032 and 4,095 bytes read back and stat like a plain directory, also after remount" {
	for n in 1 3031 3032 4000 4095; do
		t=$(target $n)
		ln -s "$t" "$REF/l$n"
		ln -s "$t" "$MNT/l$n"
	done
	check() {
		for n in 1 3031 3032 4000 4095; do
			[ "$(readlink "$MNT/l$n")" = "$(readlink "$REF/l$n")" ]
			[ "$(stat -c '%s %F' "$MNT/l$n")" = "$(stat -c '%s %F' "$REF/l$n")" ]
		done
		[ "$(cd "$MNT" && ls -l | awk '{print $5, $9}')" = "$(cd "$REF" && ls -l | awk '{print $5, $9}')" ]
	}
	check
	[ "$(links_store)" -eq 3 ] # 3032, 4000 and 4095 do not fit inline
	unmount_vault
	mount_vault
	check
	# Sidecars are files: the root's link count is a plain directory's.
	[ "$(stat -c %h "$MNT")" = "$(stat -c %h "$REF")" ]
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"5 symlinks checked: 0 problem"* ]]
}

@test "a 4,096-byte target is refused like on a plain directory" {
	t=$(target 4096)
	run ln -s "$t" "$REF/l"
	ref_out=${output##*: }
	[ "$status" -ne 0 ]
	run ln -s "$t" "$MNT/l"
	[ "$status" -ne 0 ]
	[ "${output##*: }" = "$ref_out" ]
}

@test "the sidecar goes with the last name: unlink, hard links, rename over it" {
	t=$(target 4095)
	ln -s "$t" "$MNT/a"
	ln "$MNT/a" "$MNT/b" # a hard link to the symlink itself
	[ "$(links_store)" -eq 1 ]
	rm "$MNT/a"
	[ "$(links_store)" -eq 1 ]
	[ "$(readlink "$MNT/b")" = "$t" ]
	rm "$MNT/b"
	[ "$(links_store)" -eq 0 ]
	ln -s "$t" "$MNT/c"
	touch "$MNT/f"
	mv "$MNT/f" "$MNT/c"
	[ "$(links_store)" -eq 0 ]
	ln -s "$t" "$MNT/d"
	mkdir "$MNT/sub"
	mv "$MNT/d" "$MNT/sub/d" # moving keeps it
	[ "$(readlink "$MNT/sub/d")" = "$t" ]
	[ "$(links_store)" -eq 1 ]
}

@test "no plaintext of a long target in the backing store; an altered or missing sidecar is EIO and fsck reports it" {
	t=$(python3 -c "print('/PLAINSECRET' + 'q' * 4000)")
	ln -s "$t" "$MNT/a"
	ln -s "$t" "$MNT/b"
	unmount_vault
	assert_not_in_backing PLAINSECRET
	side=$(sidecars | head -n1)
	chmod 600 "$side"
	flip_byte "$side" 100
	other=$(sidecars | tail -n1)
	rm "$other"
	mount_vault
	run readlink "$MNT/a"
	[ "$status" -ne 0 ]
	run readlink "$MNT/b"
	[ "$status" -ne 0 ]
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[ "$(grep -c 'sidecar missing or altered' <<<"$output")" -eq 2 ]
}

@test "long targets survive a key rotation (converted to format 2, sidecar removed)" {
	t=$(target 4095)
	ln -s "$t" "$MNT/a"
	[ "$(links_store)" -eq 1 ]
	# A rotation's new epoch is of format 2: the link becomes a regular
	# backing file holding its target, and its sidecar goes.
	"$LETHEFS" rotate --wait "$MNT"
	# The kernel keeps the replaced symlink's inode until its entry times
	# out (1 s); short targets behave the same (see the rotation notes).
	sleep 1.2
	[ "$(readlink "$MNT/a")" = "$t" ]
	[ "$(links_store)" -eq 0 ]
	[ "$(vault_format)" = 2 ]
	unmount_vault
	mount_vault
	[ "$(readlink "$MNT/a")" = "$t" ]
}

@test "long targets inside a staging directory live in its own tree" {
	"$LETHEFS" stage create --ttl 1h "$MNT/job"
	t=$(target 4095)
	ln -s "$t" "$MNT/job/a"
	[ "$(readlink "$MNT/job/a")" = "$t" ]
	[ "$(links_store)" -eq 0 ]
	[ "$(find "$VAULT/staging" -name '.lethefs.link.*' -type f | wc -l)" -eq 1 ]
	unmount_vault
	mount_vault
	[ "$(readlink "$MNT/job/a")" = "$t" ]
}
