#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A vault made with aes256gcm on a CPU without AES-NI (issue 11). The CPU
# is one QEMU emulates without the AES and PCLMUL flags (qemu64): libsodium
# sees what such a server would show. Before the fix an unlock through the
# control socket after mount --locked installed the keys, and the first
# write killed the daemon (illegal instruction), losing the file.

load helpers

QEMU=$(command -v qemu-x86_64 || true)

setup() {
	[ -n "$QEMU" ] || skip "qemu-user is not installed (scripts/install-deps.sh installs it)"
	INIT_ARGS=(--cipher aes256gcm)
	setup_vault
	BIN=$(readlink -f "$LETHEFS")
}

teardown() {
	[ -n "$QEMU" ] || return 0
	teardown_vault
}

no_aesni() { "$QEMU" -cpu qemu64 "$BIN" "$@"; }

@test "no AES-NI: a direct mount and the key commands refuse, no key is derived" {
	run no_aesni mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"uses aes256gcm, which this CPU cannot run"* ]]
	run no_aesni key export --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 1 ]
	[[ "$output" != *LRK1* ]]
}

@test "attack: no AES-NI: an unlock through the socket after mount --locked is refused; the daemon lives on" {
	no_aesni mount -f --locked "$VAULT" "$MNT" 2>"$T/daemon.log" &
	for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
	run "$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot run the vault's cipher"*"no key was installed"* ]]
	run "$LETHEFS" status --json "$MNT"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"state":"locked"'* ]]
	run sh -c "echo data >'$MNT/f'"
	[ "$status" -ne 0 ]
	grep -q "Operation not supported" "$T/daemon.log"
	assert_no_match "Illegal instruction" "$T/daemon.log"
}
