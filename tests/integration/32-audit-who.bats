#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Who did it: audit entries name the process's uid, pid and exe and its
# kernel login uid and session (set at login, kept across su/sudo and
# setpriv); keyslots carry authenticated labels shown by keyslot list and
# in unlock entries; rotate and stage-shred entries name their caller and
# how they were triggered; a refused extension names the real old expiry.

load helpers

USER1=lfsau-who1

setup() {
	setup_vault
	chmod 755 "$T"
}
teardown() {
	id "$USER1" >/dev/null 2>&1 && userdel "$USER1"
	teardown_vault
}

# The audit entries as JSON lines.
entries() { "$LETHEFS" audit show --json "$VAULT"; }
# keyslot list without the weak-KDF warnings of the test slots.
list() { "$LETHEFS" keyslot list "$@" "$VAULT" 2>/dev/null; }

# Runs the rest of the command line with login uid $1: the kernel assigns a
# new session too (printed on stderr as "session N").
as_login() {
	local uid=$1
	shift
	sh -c 'echo "$0" >/proc/self/loginuid && echo "session $(cat /proc/self/sessionid)" >&2 && exec "$@"' \
		"$uid" "$@"
}

@test "login uid and session: set at login, kept by the entries whatever the uid" {
	[ -w /proc/self/loginuid ] || skip "no audit login ids in this kernel"
	useradd -M -s /bin/sh "$USER1"
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	as_login 4242 "$LETHEFS" unlock --passfile "$T/pass" "$MNT" 2>"$T/s1" >/dev/null
	ses=$(sed -n 's/^session //p' "$T/s1")
	# The same login, now another user (as after su or sudo): refused.
	sock=/run/lethefs/$(sed -n 's/^uuid = //p' "$VAULT/lethefs.conf").sock
	as_login 4242 setpriv --reuid="$USER1" --regid="$USER1" --clear-groups \
		--inh-caps=+dac_override --ambient-caps=+dac_override \
		"$LETHEFS" status --socket "$sock" "$MNT" 2>"$T/s2" >/dev/null || true
	ses2=$(sed -n 's/^session //p' "$T/s2")
	as_login 4243 "$LETHEFS" keyslot list "$VAULT" >/dev/null 2>&1
	as_login 4243 "$LETHEFS" key export --passfile "$T/pass" "$VAULT" >/dev/null 2>"$T/s3"
	ses3=$(sed -n 's/^session //p' "$T/s3")
	unmount_vault
	entries | python3 -c '
import json, sys
uid1, ses, ses2, ses3 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [json.loads(l) for l in sys.stdin]
by = {}
for r in rows:
    by.setdefault(r["event"], []).append(r)
u = [r for r in by["unlock"] if r["outcome"] == "success"][0]
assert (u["uid"], u["loginuid"], u["sessionid"]) == (0, 4242, ses), u
s = by["socket-refused"][0]
assert (s["uid"], s["loginuid"], s["sessionid"]) == (uid1, 4242, ses2), s
k = by["key-export"][0]
assert (k["uid"], k["loginuid"], k["sessionid"]) == (0, 4243, ses3), k
m = by["mount"][0]
assert "loginuid" in m and "sessionid" in m
' "$(id -u "$USER1")" "$ses" "$ses2" "$ses3"
	run "$LETHEFS" audit show --event socket-refused "$VAULT"
	[[ "$output" == *" loginuid=4242 sessionid=$ses2"* ]]
	"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
}

@test "keyslot labels: shown by keyslot list and in unlock entries, kept by passwd and rekey" {
	printf 'second\n' >"$T/second"
	printf 'third\n' >"$T/third"
	run "$LETHEFS" keyslot add --new-passfile "$T/second" "${KDF[@]}" --label "Dr. X, lab admin" \
		--passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *'Added keyslot 1 (passphrase, "Dr. X, lab admin")'* ]]
	run list
	[[ "${lines[2]}" == *'label "Dr. X, lab admin" (not verified'* ]]
	run list --passfile "$T/pass"
	[ "${lines[2]}" = '        label "Dr. X, lab admin"' ]
	run list --json --passfile "$T/second"
	python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s[1]["label"] == "Dr. X, lab admin" and s[1]["label_verified"] is True, s[1]
assert "label" not in s[0]' "$output"
	# The daemon names the label of the slot that opened.
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	"$LETHEFS" unlock --passfile "$T/second" "$MNT" >/dev/null
	unmount_vault
	entries | grep '"event":"unlock"' | grep -q '"slot":1,"label":"Dr. X, lab admin"'
	# passwd keeps it (the slot is re-wrapped: new bytes, same label).
	"$LETHEFS" passwd --passfile "$T/second" --new-passfile "$T/third" "${KDF[@]}" "$VAULT" >/dev/null
	run list --passfile "$T/third"
	[ "${lines[2]}" = '        label "Dr. X, lab admin"' ]
	# rekey keeps it too.
	"$LETHEFS" rekey --passfile "$T/pass" --also-passfile "$T/third" "$VAULT" >/dev/null 2>&1
	run list --passfile "$T/third"
	[ "${lines[2]}" = '        label "Dr. X, lab admin"' ]
	# passwd --label relabels; keyslot remove drops it.
	"$LETHEFS" passwd --passfile "$T/third" --new-passfile "$T/second" "${KDF[@]}" \
		--label "Dr. Y" "$VAULT" >/dev/null
	run list --passfile "$T/pass"
	[ "${lines[2]}" = '        label "Dr. Y"' ]
	"$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT" >/dev/null
	[ ! -e "$VAULT/lethefs.labels" ]
	entries | grep '"event":"keyslot-remove"' | grep -q '"label":"Dr. Y"'
	run "$LETHEFS" keyslot add --new-passfile "$T/second" "${KDF[@]}" --label $'bad\033[31m' \
		--passfile "$T/pass" "$VAULT"
	[ "$status" -eq 2 ]
	"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
}

@test "keyslot labels attack: relabelled, moved, or an old copy for a replaced slot" {
	printf 'second\n' >"$T/second"
	printf 'third\n' >"$T/third"
	"$LETHEFS" keyslot add --new-passfile "$T/second" "${KDF[@]}" --label "Dr. X" \
		--passfile "$T/pass" "$VAULT" >/dev/null
	"$LETHEFS" keyslot add --new-passfile "$T/third" "${KDF[@]}" --label "Backup key" \
		--passfile "$T/pass" "$VAULT" >/dev/null
	cp "$VAULT/lethefs.labels" "$T/labels.old"
	# The writer of the backing store relabels slot 2 as "Dr. X".
	python3 - "$VAULT/lethefs.labels" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b"Backup key")
b[i:i + 10] = b"Dr. Xxxxxx"
open(p, "wb").write(b)
PY
	run list --passfile "$T/pass"
	echo "$output"
	[[ "${lines[4]}" == *'label "Dr. Xxxxxx" FORGED: it does not authenticate' ]]
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	"$LETHEFS" unlock --passfile "$T/third" "$MNT" >/dev/null
	"$LETHEFS" lock "$MNT" >/dev/null
	# Slot 1's record moved to slot 2: index byte changed and slot 2's hash
	# put in (unkeyed: the writer can compute it), slot 2's own record
	# dropped so that the moved one is the only candidate. Only the MAC,
	# which covers both, stands in the way: no label.
	cp "$T/labels.old" "$VAULT/lethefs.labels"
	python3 - "$VAULT/lethefs.labels" "$VAULT/lethefs.keyslots" <<'PY'
import hashlib, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
slots = open(sys.argv[2], "rb").read()
assert b[32] == 1 and int.from_bytes(b[10:12], "little") == 2
end = 32 + 68 + b[33]
b = b[:end]
b[10:12] = (1).to_bytes(2, "little")
b[32] = 2
b[36:68] = hashlib.blake2b(slots[32 + 2 * 128:32 + 3 * 128], digest_size=32).digest()
open(p, "wb").write(b)
PY
	"$LETHEFS" unlock --passfile "$T/third" "$MNT" >/dev/null
	unmount_vault
	entries | grep '"event":"unlock","outcome":"success"' >"$T/unlocks"
	[ "$(wc -l <"$T/unlocks")" -eq 2 ]
	assert_no_match '"label"' "$T/unlocks"
	# An old labels file after slot 2 was replaced (another person's secret):
	# its record is for the old slot's bytes, so the new slot has no label.
	cp "$T/labels.old" "$T/keep"
	"$LETHEFS" keyslot remove --slot 2 --passfile "$T/pass" "$VAULT" >/dev/null
	"$LETHEFS" keyslot add --slot 2 --new-passfile "$T/third" "${KDF[@]}" --passfile "$T/pass" \
		"$VAULT" >/dev/null
	cp "$T/keep" "$VAULT/lethefs.labels"
	run list --passfile "$T/pass"
	[[ "${lines[2]}" == *'label "Dr. X"' ]]
	[ "${lines[3]}" = "slot 2: passphrase, argon2id ops=1 mem=8MiB" ]
	[ "${lines[4]}" = "slot 3: empty" ]
	# A labels file of another vault, or garbage: ignored with a message.
	head -c 100 /dev/urandom >"$VAULT/lethefs.labels"
	run "$LETHEFS" keyslot list "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ignoring"*"lethefs.labels"* ]]
}

@test "the saved format-1 vault (no labels file) keeps opening and listing" {
	DATA=$BATS_TEST_DIRNAME/../data
	mkdir "$T/fv1"
	tar --xattrs --xattrs-include='user.*' -C "$T/fv1" -xzf "$DATA/format-v1-vault.tar.gz"
	run "$LETHEFS" keyslot list --passfile "$DATA/format-v1.pass" "$T/fv1/fv"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "slot 0: passphrase"* ]]
	[ "${#lines[@]}" -eq 8 ]
}

@test "rotate and stage-shred name who asked and how; a refused extension names the old expiry" {
	mount_vault
	"$LETHEFS" rotate --wait "$MNT" >/dev/null
	"$LETHEFS" stage create --ttl 1h "$MNT/by-command" >/dev/null
	"$LETHEFS" stage create --ttl 1h "$MNT/by-setfattr" >/dev/null
	"$LETHEFS" stage create --ttl 1h "$MNT/by-rmdir" >/dev/null
	"$LETHEFS" stage create --ttl 2s "$MNT/by-expiry" >/dev/null
	old=$(getfattr --only-values -n user.lethefs.expires "$MNT/by-command")
	run setfattr -n user.lethefs.ttl -v 2h "$MNT/by-command"
	[ "$status" -ne 0 ]
	"$LETHEFS" stage shred "$MNT/by-command"
	setfattr -n user.lethefs.ttl -v 0 "$MNT/by-setfattr"
	rmdir "$MNT/by-rmdir"
	for _ in $(seq 100); do
		[ -e "$MNT/by-setfattr" ] || [ -e "$MNT/by-rmdir" ] || [ -e "$MNT/by-expiry" ] || break
		sleep 0.1
	done
	sleep 0.5
	unmount_vault
	entries | python3 -c '
import json, sys
old = sys.argv[1]
rows = [json.loads(l) for l in sys.stdin]
rot = [r for r in rows if r["event"] == "rotate" and r["outcome"] == "started"][0]
assert rot["details"]["trigger"] == "command" and rot["exe"].endswith("/lethefs"), rot
assert "loginuid" in rot, rot
shreds = {}
for r in rows:
    if r["event"] == "stage-shred":
        shreds[r["details"]["path"].rsplit("/", 1)[-1]] = r
assert set(shreds) == {"by-command", "by-setfattr", "by-rmdir", "by-expiry"}, shreds
c = shreds["by-command"]
assert c["details"]["trigger"] == "command" and c["details"]["reason"] == "manual", c
assert c["exe"].endswith("/lethefs") and "loginuid" in c, c
s = shreds["by-setfattr"]
assert s["details"]["trigger"] == "setfattr" and s["exe"].endswith("setfattr"), s
d = shreds["by-rmdir"]
assert d["details"]["trigger"] == "rmdir" and d["exe"].endswith("rmdir"), d
e = shreds["by-expiry"]
assert e["details"]["trigger"] == "expiry" and e["details"]["reason"] == "expired", e
assert "uid" not in e, e
ext = [r for r in rows if r["event"] == "stage-extend" and r["outcome"] == "refused"][0]
assert ext["details"]["old_expires"] == old, (ext, old)
assert ext["details"]["old_expires"] != "1970-01-01T00:00:00Z"
' "$old"
	"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
}
