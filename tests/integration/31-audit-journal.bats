#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Audit entries go to the system log as they are written (audit/
# audit_forward.c): with a private systemd-journald (journal-ns.sh), every
# entry of a real daemon and of the key commands arrives with its exact
# fields; no detail (a staging directory's name) leaves the vault; a log
# rolled back together with its head verifies on its own but not against
# the journal (`audit verify --journal`). Without any system log the
# commands stay quiet.

load helpers

AUDIT_APPEND=${AUDIT_APPEND:-$(dirname "$LETHEFS")/tests/tools/audit_append}

setup() {
	setup_vault
	UUID=$(sed -n 's/^uuid = //p' "$VAULT/lethefs.conf")
	export LETHEFS VAULT MNT T UUID AUDIT_APPEND
}
teardown() { teardown_vault; }

# Runs the script on stdin in the private journal namespace.
in_journal_ns() {
	cat >"$T/steps.sh"
	run "$BATS_TEST_DIRNAME/journal-ns.sh" "$T/steps.sh"
	[ "$status" -ne 97 ] || skip "cannot run a private systemd-journald here"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every entry reaches the journal with its seq, hash, event and message id" {
	in_journal_ns <<'SH'
printf 'wrong\n' >"$T/wrong"
printf 'second\n' >"$T/second"
"$LETHEFS" mount --locked "$VAULT" "$MNT"
"$LETHEFS" unlock --passfile "$T/wrong" "$MNT" 2>/dev/null && exit 1
"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
"$LETHEFS" stage create --ttl 1h "$MNT/patient-smith-hiv" >/dev/null
"$LETHEFS" stage shred "$MNT/patient-smith-hiv"
"$LETHEFS" lock "$MNT"
"$LETHEFS" keyslot add --new-passfile "$T/second" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
	--passfile "$T/pass" "$VAULT" >/dev/null 2>&1
umount "$MNT"
for _ in $(seq 50); do pgrep -f "lethefs mount .*$VAULT" >/dev/null || break; sleep 0.1; done
journalctl --sync
journalctl -o json --no-pager "LETHEFS_UUID=$UUID" >"$T/journal.json"
"$LETHEFS" audit verify --journal --passfile "$T/pass" "$VAULT" >"$T/verify.out" 2>&1
SH
	cat "$T/verify.out"
	grep -q "^journal: 8 copies up to seq 8 agree with the log; 0 entries" "$T/verify.out"
	python3 - "$VAULT/lethefs.audit" "$T/journal.json" "$UUID" <<'PY'
import hashlib, json, sys
log = [l.rstrip(b"\n") for l in open(sys.argv[1], "rb")]
recs = [json.loads(l) for l in open(sys.argv[2])]
uuid = sys.argv[3]
ids = {"mount": "bee2a4e3dfbf427bb863c7a93b0e427d", "unmount": "bee2a4e3dfbf427bb863c7a93b0e427d",
       "unlock": "ae2c48ff24fc490d96bdec60a5fe9819", "lock": "e255a8916ae748ae98b04a4b36d11a56",
       "keyslot-add": "b0cc13d21ce74faab29ae04bf540bebb",
       "stage-create": "25e08532a4ac43e0a6c4ea44c2b8e74c",
       "stage-shred": "25e08532a4ac43e0a6c4ea44c2b8e74c"}
assert len(recs) == len(log) == 8, (len(recs), len(log))
prev = None
for line, r in zip(log, sorted(recs, key=lambda r: int(r["LETHEFS_SEQ"]))):
    e = json.loads(line)
    assert r["LETHEFS_UUID"] == uuid
    assert int(r["LETHEFS_SEQ"]) == e["seq"], (r, e)
    assert r["LETHEFS_HASH"] == hashlib.blake2b(line, digest_size=32).hexdigest()
    assert r["LETHEFS_PREV"] == e["prev"]
    assert r["LETHEFS_EVENT"] == e["event"] and r["LETHEFS_OUTCOME"] == e["outcome"]
    assert r["LETHEFS_KEYED"] == ("1" if "mac" in e else "0")
    assert r["MESSAGE_ID"] == ids[e["event"]], (e["event"], r["MESSAGE_ID"])
    assert r["SYSLOG_IDENTIFIER"] == "lethefs"
    assert r["MESSAGE"].startswith("audit %s #%d: %s %s by " % (uuid, e["seq"], e["event"], e["outcome"])), r["MESSAGE"]
    if "uid" in e:
        assert r["LETHEFS_UID"] == str(e["uid"]) and r["LETHEFS_PID"] == str(e["pid"])
        assert r["LETHEFS_LOGINUID"] == str(e["loginuid"])
        assert r["LETHEFS_SESSIONID"] == str(e["sessionid"])
    assert int(r["PRIORITY"]) == (5 if e["outcome"] == "success" else 4)
print([json.loads(l)["event"] for l in log])
PY
	# No name from inside the vault, no detail at all, leaves the host.
	assert_no_match patient-smith "$T/journal.json"
	grep -q patient-smith "$VAULT/lethefs.audit"
}

@test "a rollback of log and head together verifies alone, not against the journal" {
	in_journal_ns <<'SH'
for i in 1 2 3; do "$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" keyslot-add success slot:=$i; done
cp -p "$VAULT/lethefs.audit" "$T/log.old"
cp -p "$VAULT/lethefs.audit.head" "$T/head.old"
"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" key-export success
"$AUDIT_APPEND" "$VAULT" unlock failure "error=wrong secret"
journalctl --sync
"$LETHEFS" audit verify --journal --passfile "$T/pass" "$VAULT" >"$T/before.out" 2>&1
# The attacker restores the older copies of both (a backup).
cp -p "$T/log.old" "$VAULT/lethefs.audit"
cp -p "$T/head.old" "$VAULT/lethefs.audit.head"
"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT" >"$T/alone.out" 2>&1
set +e
"$LETHEFS" audit verify --journal --passfile "$T/pass" "$VAULT" >"$T/journal.out" 2>&1
echo $? >"$T/journal.rc"
"$LETHEFS" audit verify --journal --json --no-key "$VAULT" >"$T/journal.json" 2>/dev/null
set -e
# ... and writes on from there: the journal now holds two entries seq 4.
"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" mount success
journalctl --sync
set +e
"$LETHEFS" audit verify --journal --passfile "$T/pass" "$VAULT" >"$T/again.out" 2>&1
echo $? >"$T/again.rc"
SH
	cat "$T"/*.out
	grep -q "^OK: 5 entries" "$T/before.out"
	grep -q "^journal: 5 copies up to seq 5 agree" "$T/before.out"
	# The documented limit: alone, the rolled-back log verifies.
	grep -q "^OK: 3 entries, last seq 3" "$T/alone.out"
	[ "$(cat "$T/journal.rc")" -eq 10 ]
	grep -q "FAILED: the system journal holds entry seq 4 (sent at .*), but the log ends at seq 3" "$T/journal.out"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["problem"]=="rolled-back" and d["journal_checked"] and d["journal_last_seq"]==5, d' "$T/journal.json"
	[ "$(cat "$T/again.rc")" -eq 10 ]
	grep -q "two different entries seq 4" "$T/again.out"
}

@test "no journald and no /dev/log: appends succeed quietly, verify --journal says it found nothing" {
	[ ! -S /run/systemd/journal/socket ] && [ ! -e /dev/log ] || skip "this host has a system log"
	run "$AUDIT_APPEND" --count 3 "$VAULT" lock success
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$LETHEFS" keyslot list "$VAULT"
	[ "$status" -eq 0 ]
	run "$LETHEFS" audit verify --journal --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"the system journal holds no copy of this vault's entries"* ]]
}

@test "shared vaults: each host log is compared with its own copies (LETHEFS_HOST); a host log rolled back is found" {
	in_journal_ns <<'SH'
"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" mount success
"$AUDIT_APPEND" --passfile "$T/pass" --count 2 --host lfgA "$VAULT" lock success
cp "$VAULT/lethefs.audit.d/lfgA" "$T/old" && cp "$VAULT/lethefs.audit.d/lfgA.head" "$T/old.head"
"$AUDIT_APPEND" --passfile "$T/pass" --count 2 --host lfgA "$VAULT" lock success
"$AUDIT_APPEND" --passfile "$T/pass" --count 3 --host lfgB "$VAULT" unlock success
journalctl --sync
journalctl -o json --no-pager "LETHEFS_UUID=$UUID" >"$T/journal.json"
"$LETHEFS" audit verify --journal --passfile "$T/pass" "$VAULT" >"$T/verify.out" 2>&1
# lfgA's log and head rolled back together: intact on their own.
cp "$T/old" "$VAULT/lethefs.audit.d/lfgA" && cp "$T/old.head" "$VAULT/lethefs.audit.d/lfgA.head"
"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT" >"$T/alone.out" 2>&1
"$LETHEFS" audit verify --journal --passfile "$T/pass" "$VAULT" >"$T/rolled.out" 2>&1 && exit 1
exit 0
SH
	cat "$T/verify.out" "$T/alone.out" "$T/rolled.out"
	# main: 1 entry + 3 registrations (one per keyed process of a host).
	grep -q "^journal: 4 copies up to seq 4 agree with the log; 0 entries" "$T/verify.out"
	grep -q "^host lfgA: journal: 4 copies up to seq 4 agree with the log; 0 entries" "$T/verify.out"
	grep -q "^host lfgB: journal: 3 copies up to seq 3 agree with the log; 0 entries" "$T/verify.out"
	grep -q "^host lfgA: OK: 2 entries" "$T/alone.out"
	grep -q "^host lfgA: FAILED: the system journal holds entry seq 3 (sent at .*), but the log ends at seq 2" "$T/rolled.out"
	grep -q "^host lfgB: journal: 3 copies" "$T/rolled.out"
	python3 - "$T/journal.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
hosts = sorted(r.get("LETHEFS_HOST", "") for r in recs)
assert hosts == [""] * 4 + ["lfgA"] * 4 + ["lfgB"] * 3, hosts
assert all("/lfg" in r["MESSAGE"] for r in recs if r.get("LETHEFS_HOST")), recs
PY
}
