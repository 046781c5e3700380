#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Format 1 to format 2 (docs/FORMAT.md 14.7), on the saved format-1 vault of
# tests/data: offline with `lethefs upgrade`, and online by a rotation. Each
# is killed (SIGKILL, injected by strace at the Nth call of a system call
# that writes) at points all along the way; the vault must then read back
# exactly, before and after the upgrade is resumed, and pass fsck.
#
# LETHEFS_FULL_SWEEP=1 kills at every call instead of a sample.

load helpers

setup() {
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	DATA=$BATS_TEST_DIRNAME/../data
	MNT=$T/mnt
	mkdir "$MNT"
	cp "$DATA/format-v1.pass" "$T/pass"
	fresh
}
teardown() { teardown_vault; }

# A fresh copy of the saved format-1 vault in $VAULT.
fresh() {
	rm -rf "$T/fv"
	tar --xattrs --xattrs-include='user.*' -C "$T" -xzf "$DATA/format-v1-vault.tar.gz"
	VAULT=$T/fv
}

# The vault reads back exactly what was saved.
reads_back() {
	mount_vault
	diff <(cd "$MNT" && find . -printf '%y %p\n' | sort) "$DATA/format-v1.listing"
	diff <(cd "$MNT" && find . -type f -exec sha256sum {} + | sort) "$DATA/format-v1.sha256"
	[ "$(getfattr -n user.origin --only-values "$MNT/Résultats/2026/batch.csv")" = lab-7 ]
	[ "$(readlink "$MNT/latest")" = "Résultats/2026/batch.csv" ]
	[ "$(stat -c %h "$MNT/hardlink")" -eq 2 ]
	[ "$(stat -c %a "$MNT/Résultats")" = 755 ]
	unmount_vault
}

fully_converted() {
	[ "$(vault_format)" = 2 ]
	[ -z "$(find "$VAULT/d" ! -type f ! -type d)" ]
	[ -z "$(find "$VAULT/d" -name '.lethefs.link.*')" ]
	[ -z "$(find "$VAULT/d" -type f ! -name '.N*' ! -perm 0600)" ]
	# No format-1 header or directory metadata is left.
	python3 - "$VAULT/d" <<'PY'
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        if f.startswith(".N"):
            continue
        head = open(p, "rb").read(5)
        assert head[:4] in (b"LTHF", b"LTHD") and head[4] == 2, p
PY
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
}

@test "upgrade converts the saved format-1 vault; it reads back the same and passes fsck" {
	run "$LETHEFS" upgrade --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Upgraded $VAULT to format 2: 3 directories, 4 files, 2 symlinks and special files converted (1 of format 2 already)"* ]]
	fully_converted
	reads_back
	run "$LETHEFS" info "$VAULT"
	[[ "$output" == *"format:   2"* ]]
	grep -q '"event":"upgrade","outcome":"success"' "$VAULT/lethefs.audit"
	# Run again: nothing left to do.
	run "$LETHEFS" upgrade --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"of format 2 already"* ]]
}

@test "upgrade refuses a mounted vault (exit 16) and a wrong secret (exit 3), changing nothing" {
	mount_vault
	run "$LETHEFS" upgrade --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 16 ]
	unmount_vault
	echo wrong >"$T/wrong"
	run "$LETHEFS" upgrade --passfile "$T/wrong" "$VAULT"
	[ "$status" -eq 3 ]
	[ "$(vault_format)" = 1 ]
	[ -n "$(find "$VAULT/d" -type p)" ]
}

@test "an object that cannot be converted stops the upgrade short of format 2 (fail closed)" {
	# A damaged file: its header does not authenticate.
	f=$(find "$VAULT/d" -maxdepth 1 -type f -size +20M)
	flip_byte "$f" 40
	run "$LETHEFS" upgrade --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot convert d/"* ]]
	[[ "$output" == *"stays of format 1"* ]]
	[ "$(vault_format)" = 1 ]
	flip_byte "$f" 40
	"$LETHEFS" upgrade --passfile "$T/pass" "$VAULT"
	fully_converted
	reads_back
}

# Kills `lethefs upgrade` at the $2-th call of system call $1; true when it
# was killed there (false when it made fewer such calls).
upgrade_killed_at() {
	run strace -f -qq -o /dev/null -e trace="$1" -e inject="$1":signal=KILL:when="$2" \
		"$LETHEFS" upgrade --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 137 ]
}

@test "kill -9 at the system calls of an upgrade: nothing is lost, a second run finishes it" {
	local calls=0 mixed=0 stride offset
	stride=$(sweep_stride 5)
	offset=$(sweep_offset "$stride")
	for sc in pwrite64 renameat ftruncate fdatasync unlinkat fsync chmod write; do
		for ((n = 1 + offset; ; n += stride)); do
			fresh
			upgrade_killed_at "$sc" "$n" || break
			calls=$((calls + 1))
			# Half converted, it is a format-1 vault with format-2
			# objects: it mounts and reads back as it is (every few).
			if [ $((calls % 4)) = 1 ]; then
				reads_back
				mixed=$((mixed + 1))
			fi
			run "$LETHEFS" upgrade --passfile "$T/pass" "$VAULT"
			echo "$sc #$n: $output"
			[ "$status" -eq 0 ]
			fully_converted
			reads_back
		done
	done
	echo "# killed at $calls calls ($mixed mounted half converted)" >&3
	[ "$calls" -ge $((60 / stride)) ]
}

@test "a rotation of the mounted format-1 vault upgrades it to format 2" {
	mount_vault
	"$LETHEFS" rotate --wait "$MNT"
	unmount_vault
	fully_converted
	reads_back
	# Its old epoch is gone: every object is under the new one, of format 2.
	[ "$(stat -c %s "$VAULT/lethefs.keyring")" -eq 120 ]
}

# Mounts in the foreground under strace, which kills the daemon at the
# $2-th call of $1; starts a rotation and waits for the kill. True when the
# daemon was killed (its dead mount is then lazily unmounted).
rotation_killed_at() {
	strace -f -qq -o /dev/null -e trace="$1" -e inject="$1":signal=KILL:when="$2" \
		"$LETHEFS" mount -f --passfile "$T/pass" "$VAULT" "$MNT" 2>"$T/daemon.log" &
	local pid=$!
	# A kill during the mount ends the wait at once (it waited 10 s).
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	"$LETHEFS" rotate "$MNT" >/dev/null 2>&1 || true
	for _ in $(seq 300); do
		kill -0 $pid 2>/dev/null || break
		"$LETHEFS" status "$MNT" 2>/dev/null | grep -q "key rotation:    idle" && break
		sleep 0.1
	done
	if kill -0 $pid 2>/dev/null; then
		fusermount3 -u "$MNT"
		wait $pid || true
		return 1 # finished before the Nth call
	fi
	wait $pid || true
	umount -l "$MNT" 2>/dev/null || true
	return 0
}

@test "kill -9 during the upgrading rotation: the next mount resumes it, nothing is lost" {
	local kills=0 stride offset
	stride=$(sweep_stride 6)
	offset=$(sweep_offset "$stride")
	for sc in pwrite64 renameat fdatasync; do
		for ((n = 2 + offset; ; n += stride)); do
			fresh
			rotation_killed_at "$sc" "$n" || break
			kills=$((kills + 1))
			# The next mount recovers, the rotation resumes by itself
			# (several epochs: one is under way) and finishes.
			mount_vault
			"$LETHEFS" rotate --wait "$MNT"
			unmount_vault
			fully_converted
			reads_back
		done
	done
	echo "# killed $kills times" >&3
	[ "$kills" -ge $((36 / stride)) ]
}
