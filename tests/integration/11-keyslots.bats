#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Keyslot management: list, add (passphrase, keyfile, extpass), remove,
# passwd, recovery keys, tampering with slots, concurrent changers, and
# changes killed half-way.

load helpers

setup() {
	setup_vault
	printf 'second passphrase\n' >"$T/pass2"
	# A key file whose last byte is a newline: every byte must count.
	head -c 63 /dev/urandom >"$T/key"
	printf '\n' >>"$T/key"
}
teardown() { teardown_vault; }

add_slot() { # secret options for the new slot...
	"$LETHEFS" keyslot add --passfile "$T/pass" "${KDF[@]}" "$@" "$VAULT"
}

slot_bytes() { # index
	dd if="$VAULT/lethefs.keyslots" bs=1 skip=$((32 + 128 * $1)) count=128 2>/dev/null | od -An -v -tx1
}

@test "keyslot list: every slot, as text and as JSON" {
	run "$LETHEFS" keyslot list "$VAULT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 8 ]
	[ "${lines[0]}" = "slot 0: passphrase, argon2id ops=1 mem=8MiB" ]
	[ "${lines[7]}" = "slot 7: empty" ]
	run "$LETHEFS" keyslot list --json "$VAULT"
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert len(a) == 8, a
assert a[0] == {"slot": 0, "type": "passphrase", "kdf": "argon2id", "opslimit": 1, "memlimit": 8388608}, a[0]
assert all(s == {"slot": i, "type": "empty"} for i, s in enumerate(a) if i), a'
	run "$LETHEFS" keyslot list "$T/nope"
	[ "$status" -eq 4 ]
}

@test "keyslot add passphrase: the new one mounts, the old one still does" {
	run add_slot --new-passfile "$T/pass2"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Added keyslot 1 (passphrase)"* ]]
	mount_with --passfile "$T/pass2"
	mount_with --passfile "$T/pass"
	run "$LETHEFS" info "$VAULT"
	[[ "$output" == *"slot 1: passphrase, argon2id ops=1 mem=8MiB"* ]]
}

@test "keyslot add keyfile: all of the file's bytes are the secret" {
	run add_slot --new-keyfile "$T/key" --slot 3
	[ "$status" -eq 0 ]
	[[ "$output" == *"Added keyslot 3 (keyfile)"* ]]
	mount_with --keyfile "$T/key"
	# The same bytes without the final newline are another secret.
	head -c 63 "$T/key" >"$T/key-stripped"
	refuses_secret --keyfile "$T/key-stripped"
	# And --passfile, which drops the newline, does not open it either.
	refuses_secret --passfile "$T/key"
	run "$LETHEFS" keyslot list "$VAULT"
	[ "${lines[3]}" = "slot 3: keyfile, argon2id ops=1 mem=8MiB" ]
}

@test "keyslot add keyfile defaults to cheap Argon2id (1 pass, 64 MiB)" {
	run "$LETHEFS" keyslot add --passfile "$T/pass" --new-keyfile "$T/key" "$VAULT"
	[ "$status" -eq 0 ]
	run "$LETHEFS" keyslot list "$VAULT"
	[ "${lines[1]}" = "slot 1: keyfile, argon2id ops=1 mem=64MiB" ]
}

@test "keyslot add extpass: the program runs now and its output is the secret" {
	echo "from a key provider" >"$T/provided"
	run add_slot --new-extpass "cat $T/provided"
	[ "$status" -eq 0 ]
	[[ "$output" == *"(extpass)"* ]]
	mount_with --extpass "cat $T/provided"
	run add_slot --new-extpass "false"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--extpass program"* ]]
}

@test "keyslot add: wrong secret (3), slot in use (1), full table (1), bad options (2)" {
	before=$(sha256sum <"$VAULT/lethefs.keyslots")
	echo wrong >"$T/bad"
	run "$LETHEFS" keyslot add --passfile "$T/bad" --new-passfile "$T/pass2" "${KDF[@]}" "$VAULT"
	[ "$status" -eq 3 ]
	run add_slot --new-passfile "$T/pass2" --slot 0
	[ "$status" -eq 1 ]
	[[ "$output" == *"slot 0 of $VAULT is in use"* ]]
	[ "$(sha256sum <"$VAULT/lethefs.keyslots")" = "$before" ]
	run add_slot --new-passfile "$T/pass2" --slot 8
	[ "$status" -eq 2 ]
	run add_slot --new-passfile "$T/pass2" --type keyfile
	[ "$status" -eq 2 ]
	for i in 1 2 3 4 5 6 7; do add_slot --new-passfile "$T/pass2" >/dev/null; done
	run add_slot --new-passfile "$T/pass2"
	[ "$status" -eq 1 ]
	[[ "$output" == *"all 8 keyslots"*"in use"* ]]
}

@test "keyslot remove: by any slot's secret, never the last slot" {
	add_slot --new-passfile "$T/pass2" >/dev/null
	# Slot 1 removes itself.
	run "$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Removed keyslot 1"* ]]
	[ "$(slot_bytes 1 | tr -d ' \n' | tr -d 0)" = "" ]
	run "$LETHEFS" key export --passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 3 ]
	mount_with --passfile "$T/pass"
	run "$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already empty"* ]]
	run "$LETHEFS" keyslot remove --slot 0 --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"refusing to remove slot 0"*"last used keyslot"* ]]
	unlocks_with --passfile "$T/pass"
	run "$LETHEFS" keyslot remove --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 2 ]
}

@test "passwd: same slot, old secret refused, new one mounts, other slots untouched" {
	add_slot --new-keyfile "$T/key" >/dev/null
	other=$(slot_bytes 1)
	printf 'brand new passphrase\n' >"$T/new"
	run "$LETHEFS" passwd --passfile "$T/pass" --new-passfile "$T/new" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"keyslot 0"* ]]
	run "$LETHEFS" key export --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 3 ]
	mount_with --passfile "$T/new"
	[ "$(slot_bytes 1)" = "$other" ]
	mount_with --keyfile "$T/key"
	# The KDF parameters of a slot that keeps its type are kept.
	run "$LETHEFS" keyslot list "$VAULT"
	[ "${lines[0]}" = "slot 0: passphrase, argon2id ops=1 mem=8MiB" ]
	# A key file's slot changes by key file too, and stays a keyfile slot.
	head -c 32 /dev/urandom >"$T/key2"
	run "$LETHEFS" passwd --keyfile "$T/key" --new-keyfile "$T/key2" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"keyslot 1"*"(keyfile)"* ]]
	unlocks_with --keyfile "$T/key2"
	refuses_secret --keyfile "$T/key"
}

@test "key export prints a recovery key that mounts with --recovery-key" {
	run "$LETHEFS" key export --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"WARNING"* ]]
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >"$T/rk" 2>/dev/null
	grep -qE '^LRK1(-[A-Z2-7]{4}){16}$' "$T/rk"
	mount_with --recovery-key --passfile "$T/rk"
	mount_with --recovery-key --passfd 3 3<"$T/rk"
	# Sloppy typing: lower case, spaces, no prefix, over two lines.
	tr 'A-Z-' 'a-z ' <"$T/rk" | cut -c5- | fold -w 40 >"$T/sloppy"
	mount_with --recovery-key --extpass "cat $T/sloppy"
	assert_no_match -raF "$(cut -c6- "$T/rk")" "$VAULT"
}

@test "recovery key: wrong key exits 3, a typo is named, a passphrase is not one" {
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >"$T/rk" 2>/dev/null
	"$LETHEFS" init --passfile "$T/pass" "${KDF[@]}" "$T/other" >/dev/null
	"$LETHEFS" key export --passfile "$T/pass" "$T/other" >"$T/other-rk" 2>/dev/null
	run "$LETHEFS" mount --recovery-key --passfile "$T/other-rk" "$VAULT" "$MNT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"wrong recovery key"* ]]
	assert_not_mounted "$MNT"
	# Swap two different adjacent characters of the last group.
	python3 -c '
import sys
s = open(sys.argv[1]).read().strip()
i = next(i for i in range(len(s) - 2, 5, -1) if s[i] != "-" and s[i + 1] != "-" and s[i] != s[i + 1])
print(s[:i] + s[i + 1] + s[i] + s[i + 2:])' "$T/rk" >"$T/typo"
	run "$LETHEFS" mount --recovery-key --passfile "$T/typo" "$VAULT" "$MNT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"checksum mismatch"*"mistyped"* ]]
	cut -c1-50 "$T/rk" >"$T/short"
	run "$LETHEFS" key export --recovery-key --passfile "$T/short" "$VAULT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"missing or doubled"* ]]
	run "$LETHEFS" key export --recovery-key --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"not a valid recovery key"* ]]
}

@test "a recovery key adds, removes and resets slots (forgotten passphrase)" {
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >"$T/rk" 2>/dev/null
	run "$LETHEFS" passwd --recovery-key --passfile "$T/rk" --new-passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" passwd --recovery-key --passfile "$T/rk" --slot 0 --new-passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 0 ]
	refuses_secret --passfile "$T/pass"
	mount_with --passfile "$T/pass2"
	run "$LETHEFS" keyslot add --recovery-key --passfile "$T/rk" --new-passfile "$T/pass" "${KDF[@]}" "$VAULT"
	[ "$status" -eq 0 ]
	run "$LETHEFS" keyslot remove --recovery-key --passfile "$T/rk" --slot 0 "$VAULT"
	[ "$status" -eq 0 ]
	unlocks_with --passfile "$T/pass"
}

@test "a slot copied from another vault, moved, or with an edited parameter does not open" {
	add_slot --new-passfile "$T/pass2" >/dev/null
	cp "$VAULT/lethefs.keyslots" "$T/good"
	# Moved from index 1 to index 2.
	python3 - "$VAULT/lethefs.keyslots" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[32 + 256:32 + 384] = b[32 + 128:32 + 256]; b[32 + 128:32 + 256] = bytes(128)
open(p, "wb").write(b)
PY
	run "$LETHEFS" key export --passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 3 ]
	unlocks_with --passfile "$T/pass"
	# Argon2id passes edited 1 -> 3 (still a valid value).
	cp "$T/good" "$VAULT/lethefs.keyslots"
	python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[32 + 128 + 8] ^= 2; open(p, "wb").write(b)' "$VAULT/lethefs.keyslots"
	run "$LETHEFS" keyslot list "$VAULT"
	[ "${lines[1]}" = "slot 1: passphrase, argon2id ops=3 mem=8MiB" ]
	run "$LETHEFS" key export --passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 3 ]
	# Copied from another vault whose slot 0 opens with pass2.
	cp "$T/good" "$VAULT/lethefs.keyslots"
	"$LETHEFS" init --passfile "$T/pass2" "${KDF[@]}" "$T/other" >/dev/null
	python3 - "$VAULT/lethefs.keyslots" "$T/other/lethefs.keyslots" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); o = open(sys.argv[2], "rb").read()
b[32 + 128:32 + 256] = o[32:32 + 128]
open(sys.argv[1], "wb").write(b)
PY
	run "$LETHEFS" key export --passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 3 ]
	unlocks_with --passfile "$T/pass"
}

@test "concurrent keyslot adds: the lock keeps every one of them" {
	pids=()
	for i in 1 2 3 4 5; do
		printf 'parallel %s\n' "$i" >"$T/p$i"
		"$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/p$i" "${KDF[@]}" "$VAULT" \
			>"$T/out$i" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	run "$LETHEFS" info "$VAULT"
	[[ "$output" == *"keyslots: 6 of 8 used"* ]]
	for i in 1 2 3 4 5; do unlocks_with --passfile "$T/p$i"; done
	[ "$(stat -c %a "$VAULT/lethefs.lock")" = 600 ]
}

# Runs passwd (pass -> pass2) under strace, which kills it with SIGKILL at
# the Nth call of the given system call. Only the keyslot write calls
# write, fsync and renameat here (no terminal, so nothing is printed
# before): write #1 fills the temporary file, fsync #1 syncs it, renameat
# #1 replaces the keyslot file, fsync #2 syncs the directory.
passwd_killed_at() { # syscall N
	run strace -f -o /dev/null -e trace="$1" -e inject="$1":signal=SIGKILL:when="$2" \
		"$LETHEFS" passwd --passfile "$T/pass" --new-passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 137 ]
	[[ "$output" != *"Changed the secret"* ]]
}

assert_exactly_one_secret_opens() { # the one expected: old or new
	local old=no new=no
	unlocks_with --passfile "$T/pass" && old=yes
	unlocks_with --passfile "$T/pass2" && new=yes
	echo "old=$old new=$new (expected $1)" >&2
	if [ "$1" = old ]; then [ $old = yes ] && [ $new = no ]; else [ $old = no ] && [ $new = yes ]; fi
}

@test "passwd killed before its rename: the old secret still opens" {
	for point in "write 1" "fsync 1" "renameat 1"; do
		passwd_killed_at $point
		# The kill was inside the keyslot write: its temporary file is there.
		ls -a "$VAULT" | grep -q '^\.lethefs\.keyslots\.tmp\.'
		assert_exactly_one_secret_opens old
		mount_with --passfile "$T/pass"
	done
}

@test "passwd killed after its rename: the new secret opens; leftovers are cleaned" {
	passwd_killed_at fsync 2
	! ls -a "$VAULT" | grep -q '^\.lethefs\.keyslots\.tmp\.' || false
	assert_exactly_one_secret_opens new
	mount_with --passfile "$T/pass2"
	# A temporary file left by a killed change stays until the next change,
	# which removes it under the lock.
	run strace -f -o /dev/null -e trace=fsync -e inject=fsync:signal=SIGKILL:when=1 \
		"$LETHEFS" passwd --passfile "$T/pass2" --new-passfile "$T/pass" "$VAULT"
	[ "$status" -eq 137 ]
	ls -a "$VAULT" | grep -q '^\.lethefs\.keyslots\.tmp\.'
	unlocks_with --passfile "$T/pass2"
	"$LETHEFS" keyslot add --passfile "$T/pass2" --new-passfile "$T/pass" "${KDF[@]}" "$VAULT" >/dev/null
	! ls -a "$VAULT" | grep -q '^\.lethefs\.keyslots\.tmp\.' || false
	unlocks_with --passfile "$T/pass"
}

@test "keyslot add and remove killed mid-write leave the old or the new table" {
	strace -f -o /dev/null -e trace=renameat -e inject=renameat:signal=SIGKILL:when=1 \
		"$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/pass2" "${KDF[@]}" "$VAULT" || true
	unlocks_with --passfile "$T/pass"
	refuses_secret --passfile "$T/pass2"
	strace -f -o /dev/null -e trace=fsync -e inject=fsync:signal=SIGKILL:when=2 \
		"$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/pass2" "${KDF[@]}" "$VAULT" || true
	unlocks_with --passfile "$T/pass"
	unlocks_with --passfile "$T/pass2"
	strace -f -o /dev/null -e trace=renameat -e inject=renameat:signal=SIGKILL:when=1 \
		"$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT" || true
	unlocks_with --passfile "$T/pass2"
	strace -f -o /dev/null -e trace=fsync -e inject=fsync:signal=SIGKILL:when=2 \
		"$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT" || true
	refuses_secret --passfile "$T/pass2"
	unlocks_with --passfile "$T/pass"
}

@test "keyslot, passwd and key have --help; secret options are documented everywhere" {
	for c in "keyslot" "keyslot list" "keyslot add" "keyslot remove" "passwd" "key" "key export"; do
		run "$LETHEFS" $c --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"Usage: lethefs ${c%% *}"* ]]
	done
	for c in mount fsck passwd "keyslot add" "keyslot remove" "key export"; do
		run "$LETHEFS" $c --help
		[[ "$output" == *"--keyfile FILE"* ]]
		[[ "$output" == *"--recovery-key"* ]]
	done
	run "$LETHEFS" keyslot frob "$VAULT"
	[ "$status" -eq 2 ]
}
