#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Attacks on the keyslots' Argon2id parameters (issue 11): whoever can
# write the vault edits a slot's parameters. The slot then no longer
# opens (they are authenticated), but it must neither make guessing cheap
# later (a recovery passwd that kept them) nor stall every unlock (huge
# ones). Bounds: keymgmt/kdf_bounds.h, docs/KEYS.md.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

# Writes Argon2id passes $2 and memory $3 (bytes) into slot $1 of the vault.
edit_slot() {
	python3 - "$VAULT/lethefs.keyslots" "$1" "$2" "$3" <<'PY'
import struct, sys
path, idx, ops, mem = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
b = bytearray(open(path, "rb").read())
off = 32 + 128 * idx
b[off + 8:off + 16] = struct.pack("<Q", ops)
b[off + 16:off + 24] = struct.pack("<Q", mem)
open(path, "wb").write(bytes(b))
PY
}

@test "attack: a passphrase slot edited below the floor is refused as such, without Argon2id" {
	edit_slot 0 1 8192
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"keyslot 0 was not tried"*"1 passes, 8 KiB"*"below"* ]]
	assert_not_mounted "$MNT"
}

@test "attack: recovery passwd on an edited slot writes the default parameters, not the attacker's" {
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >"$T/rk"
	edit_slot 0 1 8192
	printf 'a-new-long-passphrase\n' >"$T/new"
	run "$LETHEFS" passwd --recovery-key --passfile "$T/rk" --slot 0 --new-passfile "$T/new" \
		"$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$LETHEFS" keyslot list "$VAULT"
	echo "$output"
	[[ "$output" == *"slot 0: passphrase, argon2id ops=3 mem=256MiB"* ]]
	unlocks_with --passfile "$T/new"
}

@test "attack: a slot edited to huge parameters is refused at once; the other slots still open" {
	head -c 64 /dev/urandom >"$T/key"
	"$LETHEFS" keyslot add --passfile "$T/pass" --new-keyfile "$T/key" "${KDF[@]}" "$VAULT" >/dev/null
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	# libsodium's maximum passes over 4 GiB: hours. Then 8 passes over 1 GiB:
	# seconds, above the ceiling all the same.
	edit_slot 0 4294967295 4294967296
	SECONDS=0
	run timeout 20 "$LETHEFS" key export --passfile "$T/pass" "$VAULT"
	echo "$output"
	# Slot 1 was tried (and the passphrase does not open it): a wrong
	# secret, with slot 0 named as skipped.
	[ "$status" -eq 3 ]
	[[ "$output" == *"keyslot 0 was not tried"*"above"* ]]
	edit_slot 0 8 1073741824
	run timeout 20 "$LETHEFS" unlock --keyfile "$T/key" "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"keyslot 1"* ]]
	[ "$SECONDS" -lt 4 ]
}

@test "init and keyslot add refuse weak passphrase parameters unless --allow-weak-kdf, which warns" {
	run "$LETHEFS" init --passfile "$T/pass" --kdf-ops 1 --kdf-mem 8M "$T/v2"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"below the floor"* ]]
	[ ! -e "$T/v2/lethefs.keyslots" ]
	run "$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/pass" --kdf-ops 1 \
		--kdf-mem 8M "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/pass" --kdf-ops 2 \
		--kdf-mem 8K --allow-weak-kdf "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/pass" --kdf-ops 17 \
		--kdf-mem 8M "$VAULT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"too costly"* ]]
	run "$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/v2"
	[ "$status" -eq 0 ]
	[[ "$output" == *"WARNING"*"below the floor"* ]]
	# Key files are random: cheap Argon2id needs no flag.
	head -c 32 /dev/urandom >"$T/key"
	run "$LETHEFS" init --keyfile "$T/key" --kdf-ops 1 --kdf-mem 8M "$T/v3"
	[ "$status" -eq 0 ]
	[[ "$output" != *"WARNING"* ]]
}
