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

@test "rotate --wait: a summary line for scripts, --progress=json one object per line, no absurd ETA" {
	mount_vault
	mkdir "$MNT/data"
	for i in $(seq 40); do head -c 200000 /dev/urandom >"$MNT/data/f$i"; done
	# Not a terminal: no bar, one summary line on stdout.
	run "$LETHEFS" rotate --wait "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" =~ ^"rotate: done: data-key epoch 2; "[0-9]+" files ("[0-9]+" bytes) re-encrypted" ]]
	# JSON progress: every line one status object, the last one idle.
	"$LETHEFS" rotate --wait --progress=json "$MNT" >"$T/progress"
	[ -s "$T/progress" ]
	python3 - "$T/progress" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
assert all(isinstance(o, dict) and "rotation_state" in o for o in objs), lines
assert objs[-1]["rotation_state"] == "idle", objs[-1]
assert objs[-1]["rotation_epoch"] == 3, objs[-1]
assert objs[-1]["rotation_started_at"].endswith("Z"), objs[-1]
PY
	# On a terminal: the bar, its ETA never negative or absurd, then the summary.
	run python3 "$TTY" -- "$LETHEFS" rotate --wait "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"100%"*"ETA 0s"* ]]
	! echo "$output" | grep -q 'ETA -[0-9]' || return 1
	[[ "$output" == *"rotate: done: data-key epoch 4"* ]]
	run "$LETHEFS" rotate --progress=json "$MNT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" rotate --wait --progress=fancy "$MNT"
	[ "$status" -eq 2 ]
}

@test "fsck --json: one object per line, problems by type and path, a summary last; progress on a terminal" {
	mount_vault
	mkdir "$MNT/lab"
	for i in $(seq 30); do echo "result $i" >"$MNT/lab/r$i"; done
	ln -s lab/r1 "$MNT/link"
	victim=$(backing_of lab/r7)
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" --json "$VAULT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	echo "${lines[0]}" | python3 -c 'import json,sys; o=json.load(sys.stdin); assert o["type"]=="summary" and o["clean"] is True and o["files"]==30 and o["symlinks"]==1 and o["problems"]==0, o'
	flip_byte "$victim" $(($(hdr_len) + 12)) # in block 0, after the header of either format
	"$LETHEFS" fsck --passfile "$T/pass" --json "$VAULT" >"$T/out" 2>/dev/null && return 1
	cat "$T/out"
	python3 - "$T/out" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
bad = [o for o in objs if o["type"] == "corrupt"]
assert len(bad) == 1 and bad[0]["path"] == "/lab/r7" and "block" in bad[0]["reason"], objs
assert objs[-1]["type"] == "summary" and objs[-1]["clean"] is False and objs[-1]["problems"] == 1
PY
	# -v with --json: an "ok" object per item.
	"$LETHEFS" fsck --passfile "$T/pass" --json -v "$VAULT" 2>/dev/null | grep -c '"type":"ok"' |
		grep -qx 31
	# On a terminal: a progress line on stderr, cleared before each report.
	run python3 "$TTY" -- "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 6 ]
	[[ "$output" == *"fsck: "*" directories, "*" files ("*" MB)"* ]]
	[[ "$output" == *$'\e[K'"CORRUPT /lab/r7: "* ]]
	# Not a terminal: no progress line.
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[[ "$output" != *"fsck: "* ]]
}

@test "info --json: one object on one line, times in ISO 8601" {
	run "$LETHEFS" info --json "$VAULT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	echo "$output" | python3 -c '
import json, re, sys
o = json.load(sys.stdin)
assert o["format"] == int(sys.argv[1]) and o["keyslots_used"] == 1 and o["keyslots_total"] == 8, o
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", o["created"]), o
assert o["slots"][0]["slot"] == 0 and o["slots"][0]["type"] == "passphrase", o
assert len(o["uuid"]) == 32 and o["vault"].endswith("/vault"), o' "$(vault_format)"
}
