#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# lethefs rekey (docs/KEYS.md, docs/ROTATION.md): a new master key, slots
# re-wrapped with the secrets given, a new data epoch that the next mount's
# rotation converts everything to; old key material decrypts nothing after.

load helpers

setup() {
	setup_vault
	printf 'second-secret\n' >"$T/pass2"
	"$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/pass2" "${KDF[@]}" "$VAULT" >/dev/null
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >"$T/old.rk" 2>/dev/null
}
teardown() { teardown_vault; }

populate() {
	mount_vault
	mkdir -p "$MNT/dir"
	head -c 200000 /dev/urandom >"$MNT/dir/big"
	echo small >"$MNT/dir/small"
	ln -s dir/small "$MNT/link"
	setfattr -n user.tag -v kept "$MNT/dir/small"
	(cd "$MNT" && find . -type f -exec md5sum {} + | sort -k2) >"$T/sums"
	unmount_vault
}

# After a rekey the mount starts a rotation; until the worker reaches a
# file, getxattr does not fall back to the older epoch (docs/ROTATION.md,
# "Not done yet"), so wait for it before comparing.
check_tree_after_rotation() {
	"$LETHEFS" rotate --wait "$MNT" >/dev/null
	check_tree
}

check_tree() {
	(cd "$MNT" && find . -type f -exec md5sum {} + | sort -k2) | diff - "$T/sums"
	[ "$(readlink "$MNT/link")" = dir/small ]
	[ "$(getfattr --only-values -n user.tag "$MNT/dir/small")" = kept ]
}

# Checksums of every vault file but the audit log (which records attempts).
# The vault's contents and key material; not the audit log, the keyslot
# lock, nor who used the vault when (lethefs.lease, lethefs.host.*:
# docs/SHARED.md), which every command holding the vault updates.
vault_sums() {
	(cd "$VAULT" && find . -type f ! -name 'lethefs.audit*' ! -name lethefs.lock \
		! -name lethefs.lease ! -name 'lethefs.host.*' -exec md5sum {} + | sort -k2)
}

@test "rekey with every slot's secret: both still unlock, the old recovery key does not" {
	populate
	run "$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"keyslots kept: 0,1; dropped: none"* ]]
	unlocks_with --passfile "$T/pass"
	unlocks_with --passfile "$T/pass2"
	run "$LETHEFS" key export --recovery-key --passfile "$T/old.rk" "$VAULT"
	[ "$status" -eq 3 ]
	# Same slot types and Argon2id parameters.
	run "$LETHEFS" keyslot list "$VAULT"
	[[ "$output" == *"slot 0: passphrase"* ]]
	[[ "$output" == *"slot 1: passphrase"* ]]
	"$LETHEFS" key export --passfile "$T/pass2" "$VAULT" >"$T/new.rk" 2>/dev/null
	! cmp -s "$T/old.rk" "$T/new.rk" || false
	unlocks_with --recovery-key --passfile "$T/new.rk"
	mount_vault
	check_tree_after_rotation
	# The new master key, given as a recovery key, also rekeys (its slots
	# given with --also-*).
	unmount_vault
	"$LETHEFS" rekey --recovery-key --passfile "$T/new.rk" --also-passfile "$T/pass2" \
		--also-passfile "$T/pass" "$VAULT" >/dev/null
	refuses_secret --recovery-key --passfile "$T/new.rk"
	unlocks_with --passfile "$T/pass"
}

@test "rekey without every slot's secret refuses (vault unchanged); --drop-other-slots drops them" {
	populate
	vault_sums >"$T/before"
	run "$LETHEFS" rekey --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"keyslot(s) 1 "* ]]
	[[ "$output" == *"--drop-other-slots"* ]]
	vault_sums | diff - "$T/before"
	# A secret that opens no other slot is named.
	printf 'nope\n' >"$T/wrong"
	run "$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/wrong" "$VAULT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"--also-passfile $T/wrong"* ]]
	vault_sums | diff - "$T/before"
	# A recovery key alone with --drop-other-slots would leave no slot.
	run "$LETHEFS" rekey --recovery-key --passfile "$T/old.rk" --drop-other-slots "$VAULT"
	[ "$status" -eq 2 ]

	run "$LETHEFS" rekey --passfile "$T/pass2" --drop-other-slots "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"kept: 1; dropped: 0"* ]]
	run "$LETHEFS" key export --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 3 ]
	unlocks_with --passfile "$T/pass2"
	run "$LETHEFS" info "$VAULT"
	[[ "$output" == *"keyslots: 1 of 8 used"* ]]
	"$LETHEFS" mount --passfile "$T/pass2" "$VAULT" "$MNT"
	check_tree_after_rotation
}

@test "after rekey and rotation, the old keyring and old recovery key decrypt no current file" {
	populate
	cp "$VAULT/lethefs.keyring" "$T/old.keyring"
	"$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$VAULT" >/dev/null
	# Two data epochs (+ the audit key entry): the mount's rotation resumes.
	[ "$(stat -c %s "$VAULT/lethefs.keyring")" -eq 200 ]
	mount_vault
	"$LETHEFS" rotate --wait "$MNT"
	run "$LETHEFS" status --json "$MNT"
	echo "$output"
	[[ "$output" == *'"rotation_state":"idle"'* ]]
	check_tree
	unmount_vault
	# One data epoch left, plus the audit key.
	[ "$(stat -c %s "$VAULT/lethefs.keyring")" -eq 160 ]
	cp "$VAULT/lethefs.keyring" "$T/new.keyring"

	# The old keyring opens with the old recovery key, but nothing current
	# authenticates under its keys.
	cp "$T/old.keyring" "$VAULT/lethefs.keyring"
	run "$LETHEFS" fsck --recovery-key --passfile "$T/old.rk" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *CORRUPT* ]]
	"$LETHEFS" mount --recovery-key --passfile "$T/old.rk" "$VAULT" "$MNT"
	# No name authenticates: the listing is empty (format 1), or the root's
	# record itself does not open (format 2).
	run ls -A "$MNT"
	[ -z "$output" ] || [[ "$output" == *"Input/output error"* ]]
	run cat "$MNT/dir/small"
	[ "$status" -ne 0 ]
	unmount_vault
	# Nor does the old recovery key open the current keyring; the slots do
	# not open the old one.
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[ "$status" -ne 0 ]
	cp "$T/new.keyring" "$VAULT/lethefs.keyring"
	run "$LETHEFS" fsck --recovery-key --passfile "$T/old.rk" "$VAULT"
	[ "$status" -eq 3 ]
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	mount_vault
	check_tree
}

@test "audit verify stays OK across rekey; rekey refuses a mounted vault (exit 16)" {
	populate
	"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	mount_vault
	vault_sums >"$T/before"
	run "$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$VAULT"
	echo "$output"
	[ "$status" -eq 16 ]
	[[ "$output" == *"unmount"* ]]
	unmount_vault
	vault_sums | diff - "$T/before"
	"$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$VAULT" >/dev/null
	run "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == OK:* ]]
	run "$LETHEFS" audit show --json "$VAULT"
	[[ "$output" == *'"event":"rekey"'*'"kept_slots":"0,1"'* ]]
	# A mount's own entries (keyed by the daemon) verify too.
	mount_vault
	"$LETHEFS" rotate --wait "$MNT"
	unmount_vault
	run "$LETHEFS" audit verify --passfile "$T/pass2" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$LETHEFS" rekey --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: lethefs rekey"* ]]
}

# Runs rekey under strace, which kills it at the Nth call of a system call
# (before the call runs). The commit (docs/FORMAT.md section 12, keyring
# replacement) writes the journal record (sealed under the new master,
# pwrite64 "LTHR...") and syncs it; writes the keyslots temporary
# ("LETHEKS1..."), syncs it, renames it onto lethefs.keyslots, syncs the
# directory; the same for the keyring ("LETHEKR1...", lethefs.keyring);
# then clears the record (pwrite64), syncs it, and appends the audit entry.
# Other calls come before these and vary: the first rekey after a mount
# makes lethefs.journal anew (more slots than the mount's), a host record is
# written. So N is not written down: rekey_killed_before finds it by a
# rekey of a copy of the vault in the same state, traced.
rekey_killed_at() { # syscall N
	run strace -f -o /dev/null -e trace="$1" -e inject="$1":signal=SIGKILL:when="$2" \
		"$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$VAULT"
	[ "$status" -eq 137 ]
	[[ "$output" != *"Rekeyed"* ]]
}

# Landmarks (EREs on strace's lines) for rekey_killed_before.
RECORD='pwrite64[(][0-9]+, "LTHR'
SLOTS_TMP='write[(][0-9]+, "LETHEKS1'
SLOTS_RENAME='renameat[(].*, "lethefs.keyslots"[)]'
RING_TMP='write[(][0-9]+, "LETHEKR1'
RING_RENAME='renameat[(].*, "lethefs.keyring"[)]'

# Kills rekey at the first SYSCALL call at or after the first call that
# matches LANDMARK, counted on a traced rekey of a copy of the vault.
rekey_killed_before() { # SYSCALL LANDMARK
	local n
	rm -rf "$T/copy"
	cp -a "$VAULT" "$T/copy"
	run strace -f -o "$T/trace" -e trace=pwrite64,fdatasync,write,fsync,renameat \
		"$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$T/copy"
	[ "$status" -eq 0 ]
	n=$(awk -v sc="$1" -v mark="$2" '
		/resumed>/ { next }
		{ name = $2; sub(/[(].*/, "", name); count[name]++ }
		!seen && $0 ~ mark { seen = 1 }
		seen && name == sc { print count[name]; exit }' "$T/trace")
	rm -rf "$T/copy"
	[ -n "$n" ] || { echo "no $1 call at or after /$2/ in a rekey" >&2; return 1; }
	echo "rekey killed at $1 $n (at or after /$2/)" >&2
	rekey_killed_at "$1" "$n"
}

# For each SYSCALL LANDMARK pair: a rekey killed there leaves the vault
# consistent with the old or the new key material ($1).
kills_leave() { # old|new SYSCALL LANDMARK...
	local state=$1
	shift
	while [ $# -ge 2 ]; do
		rekey_killed_before "$1" "$2"
		assert_consistent "$state"
		shift 2
	done
}

# Both secrets open the vault, data reads back, fsck is clean; $1 says
# whether the old recovery key must still work (old) or not (new).
assert_consistent() {
	unlocks_with --passfile "$T/pass"
	unlocks_with --passfile "$T/pass2"
	if [ "$1" = old ]; then
		unlocks_with --recovery-key --passfile "$T/old.rk"
	else
		refuses_secret --recovery-key --passfile "$T/old.rk"
	fi
	[ ! -e "$VAULT/lethefs.keyring.new" ]
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	mount_vault
	check_tree_after_rotation
	unmount_vault
}

@test "rekey killed before the keyslots are replaced: old key material; the next rekey goes through" {
	populate
	# The record written, synced; the keyslots temporary written, synced,
	# renamed onto lethefs.keyslots.
	kills_leave old pwrite64 "$RECORD" fdatasync "$RECORD" write "$SLOTS_TMP" \
		fsync "$SLOTS_TMP" renameat "$SLOTS_RENAME"
	"$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$VAULT" >/dev/null
	! ls -a "$VAULT" | grep -q '\.tmp\.' || false
	assert_consistent new
}

@test "rekey killed after the keyslots are replaced: the next unlock installs the new keyring" {
	populate
	# The directory synced after the keyslots rename; the keyring temporary
	# written, synced, renamed onto lethefs.keyring.
	# Slots wrap the new master; lethefs.keyring is still the old one and
	# the new one waits in the journal.
	kills_leave new fsync "$SLOTS_RENAME" write "$RING_TMP" fsync "$RING_TMP" \
		renameat "$RING_RENAME"
}

@test "rekey killed after the keyring is replaced: new key material" {
	populate
	# The directory synced after the keyring rename; the record cleared.
	kills_leave new fsync "$RING_RENAME" pwrite64 "$RING_RENAME"
}

@test "a keyring left in lethefs.keyring.new by an older version's rekey is still installed" {
	populate
	# What a rekey of the previous release killed after its keyslots rename
	# left: slots of the new master, its keyring under the .new name. Build
	# it with this version's rekey, then move the keyring aside.
	cp "$VAULT/lethefs.keyring" "$T/old.keyring"
	"$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/pass2" "$VAULT" >/dev/null
	mv "$VAULT/lethefs.keyring" "$VAULT/lethefs.keyring.new"
	cp "$T/old.keyring" "$VAULT/lethefs.keyring"
	assert_consistent new
	[ ! -e "$VAULT/lethefs.keyring.new" ]
}

@test "rekey refuses while staging directories are live (their keys are wrapped under the master key)" {
	"$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	"$LETHEFS" stage create --ttl 1h "$MNT/job" >/dev/null
	echo migrating >"$MNT/job/f"
	unmount_vault
	run "$LETHEFS" rekey --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"live staging"* ]]
	# Nothing changed: the staging directory still reads back.
	"$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$(cat "$MNT/job/f")" = migrating ]
}
