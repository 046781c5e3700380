#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Who decides retention, and what the stage command does outside a mount
# (issue 15, "Retention that cannot slip"): stage refuses paths outside a
# lethefs mount, shred-expired needs only [vault] and [staging], extending
# is for administrators, shortening for writers only when allowed,
# nothing lands in staging_root without a TTL, mkdir there gives the
# caller's directory, and stage list/show tell the truth to people and
# scripts.

load helpers

USERID=61235

setup() {
	setup_vault
	chmod 755 "$T"
}
teardown() { teardown_vault; }

as_user() { setpriv --reuid=$USERID --regid=$USERID --clear-groups "$@"; }

mount_shared() {
	mount_vault -o allow_other
	chmod 1777 "$MNT"
}

events() {
	"$LETHEFS" audit show --json "$VAULT" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    d = e.get("details", {})
    print(e["event"], e["outcome"], d.get("reason", "-"), d.get("error", "-"))'
}

@test "every stage subcommand on a path outside a lethefs mount fails with exit 11 and creates nothing" {
	mkdir "$T/plain"
	run "$LETHEFS" stage create --ttl 1d "$T/plain/job"
	echo "$output"
	[ "$status" -eq 11 ]
	[[ "$output" == *"not inside a lethefs mount"* ]]
	[ ! -e "$T/plain/job" ]
	mkdir "$T/plain/dir"
	run "$LETHEFS" stage create --ttl 1d "$T/plain/dir"
	[ "$status" -eq 11 ]
	run getfattr -n user.lethefs.ttl "$T/plain/dir"
	[ "$status" -ne 0 ]
	for sub in "extend --ttl 1h" "shred" "show"; do
		# shellcheck disable=SC2086
		run "$LETHEFS" stage $sub "$T/plain/dir"
		[ "$status" -eq 11 ]
	done
	run "$LETHEFS" stage list "$T/plain"
	[ "$status" -eq 11 ]
	[ -d "$T/plain/dir" ]
}

@test "shred-expired shreds with a broken [access] section, and says so on stderr and in the audit log" {
	mount_vault
	"$LETHEFS" stage create --ttl 2s "$MNT/job"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/job")
	unmount_vault
	printf '[access]\nidle_lock = banana\n[bogus]\nx = 1\n' >>"$VAULT/lethefs.conf"
	sleep 2.2
	run "$LETHEFS" shred-expired "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"idle_lock"* ]]
	[[ "$output" == *"1 staging directory shredded"* ]]
	[ ! -e "$VAULT/staging/$id.key" ]
	# (audit show itself needs a valid config: read the log directly)
	grep -q '"event":"config-invalid","outcome":"failure".*idle_lock' "$VAULT/lethefs.audit"
	grep -q '"event":"stage-shred","outcome":"success".*"reason":"expired"' "$VAULT/lethefs.audit"
	# A broken [staging] section is still an error (exit 5).
	printf '[staging]\nstaging_max_ttl = forever\n' >>"$VAULT/lethefs.conf"
	run "$LETHEFS" shred-expired "$VAULT"
	[ "$status" -eq 5 ]
}

@test "--dry-run: shred-expired and stage shred say what they would shred and change nothing" {
	mount_vault
	"$LETHEFS" stage create --ttl 2s "$MNT/old"
	"$LETHEFS" stage create --ttl 1d "$MNT/new"
	old=$(getfattr --only-values -n user.lethefs.id "$MNT/old")
	new=$(getfattr --only-values -n user.lethefs.id "$MNT/new")
	run "$LETHEFS" stage shred --dry-run "$MNT/new"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"would shred staging directory $new"* ]]
	[ -d "$MNT/new" ] && [ -e "$VAULT/staging/$new.key" ]
	# Not a staging directory: the same error as without --dry-run.
	mkdir "$MNT/plain"
	run "$LETHEFS" stage shred --dry-run "$MNT/plain"
	[ "$status" -ne 0 ]
	unmount_vault
	sleep 2.2
	audit_before=$(wc -c <"$VAULT/lethefs.audit")
	run "$LETHEFS" shred-expired --dry-run "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"would shred $old: expired"* ]]
	[[ "$output" != *"$new"* ]]
	[[ "$output" == *"1 staging directory would be shredded"* ]]
	[ -e "$VAULT/staging/$old.key" ]
	[ "$(wc -c <"$VAULT/lethefs.audit")" -eq "$audit_before" ]
	run "$LETHEFS" shred-expired "$VAULT"
	[[ "$output" == *"1 staging directory shredded"* ]]
	[ ! -e "$VAULT/staging/$old.key" ] && [ -e "$VAULT/staging/$new.key" ]
}

@test "writers never extend (even with staging_allow_extend = yes); root extends through the control socket" {
	printf '[staging]\nstaging_allow_extend = yes\n' >>"$VAULT/lethefs.conf"
	mount_shared
	as_user "$LETHEFS" stage create --ttl 1h "$MNT/job"
	run as_user setfattr -n user.lethefs.ttl -v 5h "$MNT/job"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	run as_user "$LETHEFS" stage extend --ttl 5h "$MNT/job"
	echo "$output"
	[ "$status" -eq 12 ]
	left=$(getfattr --only-values -n user.lethefs.ttl "$MNT/job")
	[[ "$left" == 59m* || "$left" == 1h ]]
	"$LETHEFS" stage extend --ttl 5h "$MNT/job"
	left=$(getfattr --only-values -n user.lethefs.ttl "$MNT/job")
	[[ "$left" == 4h59m* || "$left" == 5h ]]
	# Shortening stays open to the writer.
	as_user "$LETHEFS" stage extend --ttl 10m "$MNT/job"
	unmount_vault
	run events
	[[ "$output" == *"stage-extend refused - extending goes through the control socket"* ]]
	[[ "$output" == *"stage-extend success"* ]]
}

@test "owner_may_shorten = no: writers can neither shorten nor shred; root can" {
	printf '[staging]\nowner_may_shorten = no\n' >>"$VAULT/lethefs.conf"
	mount_shared
	as_user "$LETHEFS" stage create --ttl 1h "$MNT/job"
	run as_user setfattr -n user.lethefs.ttl -v 10m "$MNT/job"
	[ "$status" -ne 0 ]
	run as_user rmdir "$MNT/job"
	[ "$status" -ne 0 ]
	run as_user "$LETHEFS" stage shred "$MNT/job"
	[ "$status" -eq 12 ]
	[ -d "$MNT/job" ]
	"$LETHEFS" stage shred "$MNT/job"
	[ ! -e "$MNT/job" ]
}

@test "staging_root: a directory renamed in gets EXDEV (mv copies it in as a staging directory); files are refused" {
	printf '[staging]\nstaging_root = migrations\nstaging_default_ttl = 1h\n' >>"$VAULT/lethefs.conf"
	mount_vault
	mkdir "$MNT/migrations" "$MNT/build"
	echo payload >"$MNT/build/data"
	run python3 -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/build" "$MNT/migrations/job"
	[[ "$output" == *"Invalid cross-device link"* ]]
	mv "$MNT/build" "$MNT/migrations/job"
	[ ! -e "$MNT/build" ]
	[ "$(cat "$MNT/migrations/job/data")" = payload ]
	getfattr --only-values -n user.lethefs.id "$MNT/migrations/job" | grep -qE '^[89a-f][0-9a-f]{7}$'
	run touch "$MNT/migrations/loose-file"
	[ "$status" -ne 0 ]
	[ ! -e "$MNT/migrations/loose-file" ]
	echo x >"$MNT/elsewhere"
	run mv "$MNT/elsewhere" "$MNT/migrations/elsewhere"
	[ "$status" -ne 0 ]
	[ ! -e "$MNT/migrations/elsewhere" ]
	run ln -s target "$MNT/migrations/link"
	[ "$status" -ne 0 ]
	run mknod "$MNT/migrations/fifo" p
	[ "$status" -ne 0 ]
	run ln "$MNT/elsewhere" "$MNT/migrations/hard"
	[ "$status" -ne 0 ]
	# Nor can an exchange swap a plain directory in for a staging one.
	mkdir "$MNT/swap"
	run python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)
print(os.strerror(ctypes.get_errno()) if r else "exchanged")' "$MNT/migrations/job" "$MNT/swap"
	echo "$output"
	[[ "$output" == *"Invalid cross-device link"* ]]
	getfattr -n user.lethefs.id "$MNT/migrations/job" >/dev/null
	# A staging directory may still be renamed inside staging_root.
	mv "$MNT/migrations/job" "$MNT/migrations/job-done"
	[ "$(cat "$MNT/migrations/job-done/data")" = payload ]
	# Nothing directly in staging_root lacks a TTL.
	for e in "$MNT/migrations"/*; do getfattr -n user.lethefs.ttl "$e" >/dev/null; done
}

@test "mkdir under staging_root gives the caller a directory with the mode it asked for" {
	printf '[staging]\nstaging_root = migrations\n' >>"$VAULT/lethefs.conf"
	mount_shared
	mkdir -m 0777 "$MNT/migrations"
	as_user mkdir -m 0750 "$MNT/migrations/svc-job"
	[ "$(stat -c '%u %a' "$MNT/migrations/svc-job")" = "$USERID 750" ]
	as_user sh -c "echo mine >'$MNT/migrations/svc-job/f'"
	[ "$(as_user cat "$MNT/migrations/svc-job/f")" = mine ]
	getfattr --only-values -n user.lethefs.id "$MNT/migrations/svc-job" >/dev/null
}

@test "stage list: unmounted vault (no key), any path in the mount, header when empty, current USED, --json/--bytes/--utc" {
	mount_vault
	run "$LETHEFS" stage list "$MNT"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == ID*STATE*CREATED*EXPIRES*LEFT*QUOTA*USED* ]]
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	[ "$("$LETHEFS" stage list --json "$MNT")" = "[]" ]
	mkdir -p "$MNT/deep/er"
	"$LETHEFS" stage create --ttl 2h --quota 10M "$MNT/job"
	head -c 1048576 /dev/urandom >"$MNT/job/blob"
	# Right away: USED is what was written, not what the index had 5 s ago.
	run "$LETHEFS" stage list --json --bytes "$MNT/deep/er"
	echo "$output"
	echo "$output" | python3 -c '
import json, sys
l = json.load(sys.stdin)
assert len(l) == 1, l
e = l[0]
assert e["used"] == 1048576, e
assert e["quota"] == 10485760, e
assert e["state"] == "live", e
assert e["expires"].endswith("Z") and 7000 < e["ttl_seconds"] <= 7200, e
assert e["owner_uid"] == 0, e'
	run "$LETHEFS" stage list "$MNT"
	[[ "$output" == *"1.0 MiB"* && "$output" == *"10.0 MiB"* ]]
	run "$LETHEFS" stage list --bytes --utc "$MNT"
	[[ "$output" == *"1048576"* && "$output" == *"Z "* ]]
	unmount_vault
	run "$LETHEFS" stage list "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" live "* ]]
}

@test "stage show PATH, user.lethefs.used, and getfattr -d lists ttl and expires" {
	mount_vault
	"$LETHEFS" stage create --ttl 3h --quota 1G "$MNT/job"
	echo hello >"$MNT/job/f"
	run "$LETHEFS" stage show "$MNT/job"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"id"*"expires"*"left"*"quota    1.0 GiB"*"used     6 B"* ]]
	"$LETHEFS" stage show --json "$MNT/job" | python3 -c '
import json, sys
e = json.load(sys.stdin)
assert e["quota"] == 1 << 30 and e["used"] == 6 and 10700 < e["ttl_seconds"] <= 10800, e'
	run getfattr -d "$MNT/job"
	echo "$output"
	[[ "$output" == *"user.lethefs.ttl="* ]]
	[[ "$output" == *"user.lethefs.expires="* ]]
	run "$LETHEFS" stage show "$MNT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not a staging directory"* ]]
}

@test "a mount refused for a typo in [access] still shreds the expired staging directories, and says so" {
	mount_vault
	"$LETHEFS" stage create --ttl 2s "$MNT/job"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/job")
	unmount_vault
	printf '[access]\nidle_lock = banana\n' >>"$VAULT/lethefs.conf"
	sleep 2.2
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"idle_lock"* ]]
	[[ "$output" == *"shredded anyway: 1 shredded"* ]]
	[ ! -e "$VAULT/staging/$id.key" ]
	grep -q '"event":"config-invalid"' "$VAULT/lethefs.audit"
}
