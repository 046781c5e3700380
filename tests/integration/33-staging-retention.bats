#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Retention that cannot slip (issues 11, 12, 15): the key is overwritten
# whoever shreds, no staging name in the system log, a stopped daemon does
# not stop shred-expired, a stepped-back clock postpones nothing, creation
# by users is bounded, a damaged or deleted index hides nothing, and every
# path into staging_root gets a TTL. Each test is an attack or a mistake
# that kept data past its TTL (or lost track of it) before.

load helpers

# A uid no account uses: the vault's owner in the non-root tests.
OWNER=61234
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

setup() {
	setup_vault
	chmod 755 "$T"
}

teardown() {
	if [ -n "${STOPPED:-}" ]; then kill -CONT "$STOPPED" 2>/dev/null || true; fi
	teardown_vault_ext4
	teardown_vault
}

# A vault on a loop-mounted ext4 image, so that the raw bytes can be read.
setup_vault_ext4() {
	truncate -s 64M "$T/ext4.img"
	mkfs.ext4 -q -F "$T/ext4.img"
	mkdir -p "$T/ext4"
	mount -o loop "$T/ext4.img" "$T/ext4"
	EXT4=1
	rm -rf "$VAULT"
	VAULT=$T/ext4/vault
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$VAULT" >/dev/null
	EXT4_UUID=$(sed -n 's/^uuid = //p' "$VAULT/lethefs.conf")
}

teardown_vault_ext4() {
	[ -n "${EXT4:-}" ] || return 0
	unmount_vault || true
	# (the test may have unmounted the image already: the uuid was kept)
	rm -f "/run/lethefs/staging-clock-$EXT4_UUID"
	if mountpoint -q "$T/ext4"; then umount "$T/ext4" || umount -l "$T/ext4"; fi
	EXT4=
}

as_owner() { setpriv --reuid=$OWNER --regid=$OWNER --clear-groups "$@"; }

events() {
	"$LETHEFS" audit show --json "$VAULT" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    d = e.get("details", {})
    print(e["event"], e["outcome"], d.get("reason", "-"), d.get("id", "-"), d.get("error", "-"))'
}

# Whether the byte string in hex $2 occurs anywhere in file $1.
raw_contains() {
	python3 - "$1" "$2" <<'PY'
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    sys.exit(0 if m.find(bytes.fromhex(sys.argv[2])) >= 0 else 1)
PY
}

# An expired staging directory whose vault then belongs to $OWNER; sets ID
# and KEYHEX (the sealed key, bytes 40-87 of the key file).
expired_for_owner() {
	mount_vault
	"$LETHEFS" stage create --ttl 2s "$MNT/job"
	ID=$(getfattr --only-values -n user.lethefs.id "$MNT/job")
	echo owner-data >"$MNT/job/f"
	unmount_vault
	KEYHEX=$(xxd -p -s 40 -l 48 "$VAULT/staging/$ID.key" | tr -d '\n')
	chown -R $OWNER:$OWNER "$VAULT"
	sleep 2.2
}

@test "shred-expired by the vault's (non-root) owner overwrites the key: its bytes are gone from the raw ext4 image" {
	setup_vault_ext4
	expired_for_owner
	sync
	raw_contains "$T/ext4.img" "$KEYHEX" # the test can see it before
	run as_owner "$LETHEFS" shred-expired "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 staging directory shredded"* ]]
	[ ! -e "$VAULT/staging/$ID.key" ]
	run events
	[[ "$output" == *"stage-shred success expired $ID"* ]]
	umount "$T/ext4"
	run raw_contains "$T/ext4.img" "$KEYHEX"
	[ "$status" -eq 1 ]
}

@test "a key file the shredder cannot overwrite is left in place and the audit log says failure" {
	expired_for_owner
	chown 0:0 "$VAULT/staging/$ID.key" # e.g. written by a root daemon
	run as_owner "$LETHEFS" shred-expired "$VAULT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"could not be overwritten"* ]]
	[[ "$output" != *"1 staging directory shredded"* ]]
	[ -e "$VAULT/staging/$ID.key" ]
	run events
	[[ "$output" == *"stage-shred failure expired $ID"* ]]
	[[ "$output" != *"stage-shred success"* ]]
	# Root completes it.
	"$LETHEFS" shred-expired "$VAULT"
	[ ! -e "$VAULT/staging/$ID.key" ]
	run events
	[[ "$output" == *"stage-shred success expired $ID"* ]]
}

@test "no staging directory name in the system log; the audit log keeps it" {
	mount_logged
	"$LETHEFS" stage create --ttl 1h "$MNT/patient-smith-job"
	mkdir "$MNT/plain" && setfattr -n user.lethefs.ttl -v 2s "$MNT/plain"
	"$LETHEFS" stage shred "$MNT/patient-smith-job"
	for _ in $(seq 50); do [ -e "$MNT/plain" ] || break; sleep 0.1; done
	sleep 0.5
	unmount_vault
	grep -q "shredded" "$T/daemon.log"
	run grep -E "patient-smith-job|plain" "$T/daemon.log"
	echo "$output"
	[ "$status" -eq 1 ]
	"$LETHEFS" audit show "$VAULT" | grep -q patient-smith-job
}

@test "shred-expired shreds when the daemon is stopped (SIGSTOP) instead of believing it" {
	mount_vault
	"$LETHEFS" stage create --ttl 2s "$MNT/job"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/job")
	echo stopped-daemon-data >"$MNT/job/f"
	pid=$(pgrep -f "lethefs mount .*$VAULT" | head -n1)
	[ -n "$pid" ]
	kill -STOP "$pid"
	STOPPED=$pid
	sleep 2.5
	run timeout 20 "$LETHEFS" shred-expired "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"does not answer"* ]]
	[[ "$output" == *"1 staging directory shredded"* ]]
	[ ! -e "$VAULT/staging/$id.key" ]
	[ ! -e "$VAULT/staging/$id" ]
	kill -CONT "$pid"
	STOPPED=
	for _ in $(seq 50); do [ -e "$MNT/job" ] || break; sleep 0.1; done
	[ ! -e "$MNT/job" ]
	# A live daemon is left alone.
	"$LETHEFS" stage create --ttl 1h "$MNT/other"
	run "$LETHEFS" shred-expired "$VAULT"
	[[ "$output" == *"is mounted"* ]]
}

faketime_env() {
	env LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1 \
		FAKETIME_DONT_FAKE_MONOTONIC=1 "$@"
}

@test "stepping the wall clock back a year does not postpone an expiry (running daemon)" {
	[ -e "$FAKETIME_LIB" ] || skip "libfaketime not installed (scripts/install-deps.sh)"
	skip_if_sanitized
	echo "+0" >"$T/faketime"
	faketime_env "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	"$LETHEFS" stage create --ttl 4s "$MNT/job"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/job")
	echo "-365d" >"$T/faketime"
	for _ in $(seq 100); do [ -e "$VAULT/staging/$id.key" ] || break; sleep 0.1; done
	[ ! -e "$VAULT/staging/$id.key" ]
	for _ in $(seq 30); do [ -e "$MNT/job" ] || break; sleep 0.1; done
	[ ! -e "$MNT/job" ]
}

@test "stepping the wall clock back does not postpone an expiry (shred-expired after unmount)" {
	[ -e "$FAKETIME_LIB" ] || skip "libfaketime not installed (scripts/install-deps.sh)"
	skip_if_sanitized
	mount_vault
	"$LETHEFS" stage create --ttl 3s "$MNT/job"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/job")
	unmount_vault
	sleep 4
	echo "-365d" >"$T/faketime"
	faketime_env date +%Y | grep -qv "$(date +%Y)" # the fake clock is a year back
	run faketime_env "$LETHEFS" shred-expired "$VAULT"
	echo "$output"
	[[ "$output" == *"1 staging directory shredded"* ]]
	[ ! -e "$VAULT/staging/$id.key" ]
}

# An allow_other mount whose root any user may write.
mount_shared() {
	mount_vault -o allow_other
	chmod 1777 "$MNT"
}

@test "users are bounded: staging_max_ttl defaults to 30 days, staging_max_per_user to 16" {
	mount_shared
	run as_owner "$LETHEFS" stage create --ttl 36500d "$MNT/century"
	[ "$status" -eq 17 ]
	[ ! -e "$MNT/century" ]
	as_owner "$LETHEFS" stage create --ttl 30d "$MNT/month"
	for i in $(seq 2 16); do as_owner "$LETHEFS" stage create --ttl 1h "$MNT/j$i" >/dev/null; done
	run as_owner "$LETHEFS" stage create --ttl 1h "$MNT/j17"
	echo "$output"
	[ "$status" -eq 17 ]
	[[ "$output" == *"staging_max_per_user"* ]]
	[ ! -e "$MNT/j17" ]
	# Root is not bounded by the per-user limit.
	"$LETHEFS" stage create --ttl 1h "$MNT/rootjob"
	[ "$(getfattr --only-values -n user.lethefs.id "$MNT/month" | wc -c)" -eq 8 ]
}

# Two staging directories with data, then unmounted; sets IDA, IDB.
two_staged() {
	mount_vault
	"$LETHEFS" stage create --ttl 1h "$MNT/a"
	"$LETHEFS" stage create --ttl 1h "$MNT/b"
	echo aaa >"$MNT/a/f"
	echo bbb >"$MNT/b/f"
	IDA=$(getfattr --only-values -n user.lethefs.id "$MNT/a")
	IDB=$(getfattr --only-values -n user.lethefs.id "$MNT/b")
	unmount_vault
}

@test "a garbage, empty or appended-to index does not stop the mount: rebuilt, reported, data served" {
	two_staged
	for damage in garbage empty appended; do
		case $damage in
		garbage) head -c 300 /dev/urandom >"$VAULT/staging/index" ;;
		empty) : >"$VAULT/staging/index" ;;
		appended) echo "8000zzzz this is not an entry" >>"$VAULT/staging/index" ;;
		esac
		mount_vault
		[ "$(cat "$MNT/a/f")" = aaa ]
		[ "$(cat "$MNT/b/f")" = bbb ]
		run "$LETHEFS" stage list --json "$MNT"
		[ "$(echo "$output" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ]
		unmount_vault
	done
	run events
	[ "$(echo "$output" | grep -c "stage-damaged failure")" -ge 3 ]
}

@test "a deleted index hides nothing: shred-expired destroys the keys from the key files and records" {
	mount_vault
	"$LETHEFS" stage create --ttl 2s "$MNT/gone"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/gone")
	unmount_vault
	rm "$VAULT/staging/index"
	sleep 2.2
	run "$LETHEFS" shred-expired "$VAULT"
	echo "$output"
	[[ "$output" == *"1 staging directory shredded"* ]]
	[ ! -e "$VAULT/staging/$id.key" ]
	[ ! -e "$VAULT/staging/$id" ]
}

@test "an index edited to postpone an expiry does not: the retention record rules" {
	mount_vault
	"$LETHEFS" stage create --ttl 2s "$MNT/e"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/e")
	unmount_vault
	sed -i "s/^$id \([0-9]*\) [0-9]*/$id \1 9999999999/" "$VAULT/staging/index"
	grep -q "^$id .* 9999999999 " "$VAULT/staging/index"
	sleep 2.2
	"$LETHEFS" shred-expired "$VAULT"
	[ ! -e "$VAULT/staging/$id.key" ]
}

@test "a forged retention record (expiry pushed later, MAC kept) is caught at unlock and shredded" {
	mount_vault
	"$LETHEFS" stage create --ttl 1h "$MNT/f"
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/f")
	echo forged >"$MNT/f/x"
	unmount_vault
	# expires (bytes 24-31) + 1 year, in both the record and the index.
	python3 - "$VAULT/staging/$id.exp" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
v = struct.unpack_from("<q", b, 24)[0] + 365 * 86400
struct.pack_into("<q", b, 24, v)
open(p, "wb").write(b)
PY
	sed -i "s/^$id \([0-9]*\) \([0-9]*\)/$id \1 9999999999/" "$VAULT/staging/index"
	mount_vault
	for _ in $(seq 30); do [ -e "$VAULT/staging/$id.key" ] || break; sleep 0.1; done
	[ ! -e "$VAULT/staging/$id.key" ]
	[ ! -e "$MNT/f" ]
	unmount_vault
	run events
	[[ "$output" == *"stage-shred success unauthenticated $id"* ]]
}

@test "fsck checks staging trees with their keys: a damaged key, a corrupt block, a missing key" {
	two_staged
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	# A corrupt block of a file below a staging directory.
	f=$(find "$VAULT/staging/$IDA" -type f ! -name '.lethefs.dir' | head -n1)
	flip_byte "$f" 60
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"CORRUPT"*"$IDA"* ]]
	flip_byte "$f" 60
	# A key file emptied: reported.
	cp "$VAULT/staging/$IDB.key" "$T/keyb"
	: >"$VAULT/staging/$IDB.key"
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"CORRUPT staging/$IDB"*"key"* ]]
	# A key file deleted: its tree can never be read again, reported.
	rm -f "$VAULT/staging/$IDB.key"
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[[ "$output" == *"staging/$IDB"*"no key file"* ]]
	# The index: damaged is reported.
	echo junk >>"$VAULT/staging/index"
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[[ "$output" == *"staging/index"* ]]
}

@test "a damaged key file is reported (log, audit, status, stage list) and the rest is served" {
	two_staged
	: >"$VAULT/staging/$IDB.key"
	mount_vault
	[ "$(cat "$MNT/a/f")" = aaa ]
	run cat "$MNT/b/f"
	[ "$status" -ne 0 ]
	"$LETHEFS" status --json "$MNT" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["staging_count"] == 2 and s["staging_damaged"] == 1, s
assert s["staging_next_expiry"].endswith("Z"), s'
	run "$LETHEFS" stage list --json "$MNT"
	echo "$output" | python3 -c '
import json, sys
st = {e["id"]: e["state"] for e in json.load(sys.stdin)}
assert st == {"'"$IDA"'": "live", "'"$IDB"'": "damaged"}, st'
	unmount_vault
	run events
	[[ "$output" == *"stage-damaged failure - $IDB key file malformed"* ]]
}
