#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A command line scripts and people can rely on (issue 15): --dry-run and
# confirmations of destructive commands (asked on a terminal only, never
# with -q/--batch or in a script), rotate --wait's summary and
# --progress=json, fsck's progress and --json, the JSON style.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

TTY=$BATS_TEST_DIRNAME/on_tty.py

add_slot() { # secret file
	"$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$1" "${KDF[@]}" "$VAULT" \
		>/dev/null 2>&1
}

@test "keyslot remove --dry-run authenticates and checks, says what it would do, changes nothing" {
	printf 'second-secret\n' >"$T/p2"
	add_slot "$T/p2"
	before=$(sha256sum <"$VAULT/lethefs.keyslots")
	audit_before=$(wc -l <"$VAULT/lethefs.audit")
	run "$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" --dry-run "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Would remove keyslot 1 (passphrase)"*"1 used slot would remain"* ]]
	[ "$(sha256sum <"$VAULT/lethefs.keyslots")" = "$before" ]
	[ "$(wc -l <"$VAULT/lethefs.audit")" -eq "$audit_before" ]
	# The checks are the real ones: a wrong secret, the last slot.
	printf 'wrong\n' >"$T/bad"
	run "$LETHEFS" keyslot remove --slot 1 --passfile "$T/bad" --dry-run "$VAULT"
	[ "$status" -eq 3 ]
	run "$LETHEFS" keyslot remove --slot 5 --passfile "$T/pass" --dry-run "$VAULT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already empty"* ]]
	# Only the wrong secret's failed unlock was recorded.
	[ "$(wc -l <"$VAULT/lethefs.audit")" -eq $((audit_before + 1)) ]
	tail -n1 "$VAULT/lethefs.audit" | grep -q '"event":"unlock","outcome":"failure"' 
	"$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT" >/dev/null
	run "$LETHEFS" keyslot remove --slot 0 --passfile "$T/pass" --dry-run "$VAULT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"last used keyslot"* ]]
}

@test "rekey --dry-run checks the secrets and says which slots it keeps and empties" {
	printf 'second-secret\n' >"$T/p2"
	add_slot "$T/p2"
	sums() { sha256sum "$VAULT/lethefs.keyslots" "$VAULT/lethefs.keyring" "$VAULT/lethefs.audit"; }
	before=$(sums)
	run "$LETHEFS" rekey --passfile "$T/pass" --drop-other-slots --dry-run "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"keyslots kept (re-wrapped): 0; emptied: 1;"* ]]
	[[ "$output" == *"Nothing was changed"* ]]
	run "$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/p2" --dry-run "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"kept (re-wrapped): 0,1; emptied: none;"* ]]
	# Refusals are the real ones: a slot without its secret.
	run "$LETHEFS" rekey --passfile "$T/pass" --dry-run "$VAULT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no secret given for keyslot(s) 1"* ]]
	[ "$(sums)" = "$before" ]
	# Mounted: refused as the real rekey is.
	mount_vault
	run "$LETHEFS" rekey --passfile "$T/pass" --dry-run "$VAULT"
	[ "$status" -eq 16 ]
}

@test "keyslot remove asks on a terminal: 'n' changes nothing, 'y' removes; -q and scripts are not asked" {
	command -v python3 >/dev/null || skip "python3 needed for the terminal"
	for i in 2 3; do
		printf 'secret-%s\n' "$i" >"$T/p$i"
		add_slot "$T/p$i"
	done
	before=$(sha256sum <"$VAULT/lethefs.keyslots")
	run python3 "$TTY" "[y/N]" n -- "$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Remove keyslot 1 (passphrase) of $VAULT?"*"[y/N]"* ]]
	[[ "$output" == *"not confirmed: nothing was changed"* ]]
	[ "$(sha256sum <"$VAULT/lethefs.keyslots")" = "$before" ]
	run python3 "$TTY" "[y/N]" y -- "$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Removed keyslot 1"* ]]
	# -q on a terminal: no question (on_tty would never answer it).
	run python3 "$TTY" -- "$LETHEFS" keyslot remove -q --slot 2 --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" != *"[y/N]"* ]]
	# No terminal: no question.
	printf 'secret-4\n' >"$T/p4"
	add_slot "$T/p4"
	run "$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" != *"[y/N]"* ]]
	[ "$("$LETHEFS" keyslot list "$VAULT" | grep -vc empty)" -eq 1 ]
}

@test "rekey and lock --force ask on a terminal; 'n' leaves the vault and the open files alone" {
	command -v python3 >/dev/null || skip "python3 needed for the terminal"
	before=$(sha256sum <"$VAULT/lethefs.keyslots")
	run python3 "$TTY" "[y/N]" n -- "$LETHEFS" rekey --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Give $VAULT a new master key? Keyslots kept: 0; emptied: none"* ]]
	[ "$(sha256sum <"$VAULT/lethefs.keyslots")" = "$before" ]
	mount_vault
	echo kept >"$MNT/f"
	exec 4<"$MNT/f"
	run python3 "$TTY" "[y/N]" n -- "$LETHEFS" lock --force "$MNT"
	echo "$output"
	[ "$status" -eq 13 ]
	[[ "$output" == *"revoke 1 open files"*"[y/N]"* ]]
	[ "$(head -c 4 <&4)" = kept ]
	# No open file: nothing to ask.
	exec 4<&-
	run python3 "$TTY" -- "$LETHEFS" lock --force "$MNT"
	[ "$status" -eq 0 ]
	[[ "$output" != *"[y/N]"* ]]
}

@test "config check lints lethefs.conf without a key, as a mount would judge it" {
	cp "$VAULT/lethefs.conf" "$T/conf.orig"
	run "$LETHEFS" config check "$VAULT"
	[ "$status" -eq 0 ]
	[ "$output" = "$VAULT/lethefs.conf: ok" ]
	# systemd's spellings, booleans and '#' comments: accepted, and a mount
	# reads them the same way.
	cat >>"$VAULT/lethefs.conf" <<'CONF'
[access]
idle_lock = 1h 30min   # an hour and a half
[staging]
staging_allow_extend = on # yes
staging_default_ttl = 3 days
CONF
	run "$LETHEFS" config check "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	mount_vault
	"$LETHEFS" status --json "$MNT" | grep -q '"idle_lock_seconds":5400'
	unmount_vault
	# Each mistake: exit 5, the line and the reason; the mount refuses it too.
	for bad in '[acess]\nidle_lock = 15m' '[access]\nidle_lock = 15 parsecs' \
		'[staging]\nstaging_allow_extend = maybe' '[access]\nadmin_group = lfssa-nosuchgroup' \
		'[audit]\nlog = ../outside.audit'; do
		cp "$T/conf.orig" "$VAULT/lethefs.conf"
		printf "$bad\n" >>"$VAULT/lethefs.conf"
		run "$LETHEFS" config check "$VAULT"
		echo "$bad: $output"
		[ "$status" -eq 5 ]
		[[ "$output" == *"lethefs.conf: "* ]]
		run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
		[ "$status" -ne 0 ] || { echo "mount accepted what config check refused: $bad"; return 1; }
	done
	cp "$T/conf.orig" "$VAULT/lethefs.conf"
	run "$LETHEFS" config check "$T/nothing"
	[ "$status" -eq 4 ]
	run "$LETHEFS" config check "$T"
	[ "$status" -eq 4 ]
}

@test "durations in systemd's spellings on the command line too" {
	mount_vault
	run "$LETHEFS" status --wait-unlocked --timeout "1 min" "$MNT"
	[ "$status" -eq 0 ]
	run "$LETHEFS" umount --timeout "2 minutes 30s" "$MNT"
	[ "$status" -eq 0 ]
	run "$LETHEFS" umount --timeout "5M" "$MNT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad --timeout '5M'"* ]]
}

@test "init warns on a weak passphrase, refuses an empty one (file or terminal), creates nothing then" {
	for weak in password1 'Welcome2024!' aaaaaaaaaaaaaaaaaaaa 1234567890123456 qwerty; do
		printf '%s\n' "$weak" >"$T/weak"
		rm -rf "$T/v"
		run "$LETHEFS" init --passfile "$T/weak" "${KDF[@]}" "$T/v"
		echo "$weak: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"warning: this passphrase is weak"* ]]
	done
	for strong in 'correct horse battery staple' 'q7#Lk9!zP2@xW4mN' 'Vj3kq9Xw2LmZp8Rt'; do
		printf '%s\n' "$strong" >"$T/strong"
		rm -rf "$T/v"
		run "$LETHEFS" init --passfile "$T/strong" "${KDF[@]}" "$T/v"
		[ "$status" -eq 0 ]
		[[ "$output" != *"is weak"* ]] || { echo "$strong: $output"; return 1; }
	done
	# The same warning for a new slot.
	printf 'letmein\n' >"$T/weak"
	run "$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/weak" "${KDF[@]}" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"passphrase is weak"* ]]
	# Empty: refused, and no vault is made.
	rm -rf "$T/v"
	printf '\n' >"$T/empty"
	run "$LETHEFS" init --passfile "$T/empty" "${KDF[@]}" "$T/v"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is empty"* ]]
	[ ! -e "$T/v/lethefs.conf" ]
	run python3 "$TTY" "New passphrase:" "" -- "$LETHEFS" init "${KDF[@]}" "$T/v"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"empty passphrase refused"* ]]
	[ ! -e "$T/v/lethefs.conf" ]
}
