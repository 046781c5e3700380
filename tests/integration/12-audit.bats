#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# lethefs audit verify | show, against logs written through the library by
# the test tool build/tests/tools/audit_append (the daemon and key commands are
# its real callers), then tampered with as an attacker with write access
# to the vault would.

load helpers

AUDIT_APPEND=${AUDIT_APPEND:-$(dirname "$LETHEFS")/tests/tools/audit_append}

setup() {
	setup_vault
	LOG=$VAULT/lethefs.audit
	# 6 entries: keyed, unkeyed (written while locked), keyed, ...
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" mount success mountpoint=/mnt/x
	"$AUDIT_APPEND" "$VAULT" unlock failure "error=wrong secret"
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" unlock success
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" keyslot-add success slot:=2 type=passphrase
	"$AUDIT_APPEND" "$VAULT" lock success reason=idle
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" unmount success
}
teardown() { teardown_vault; }

verify() { run "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"; }

@test "an untouched log verifies, with and without the key" {
	verify
	[ "$status" -eq 0 ]
	[[ "$output" == "OK: 6 entries, last seq 6, 4 keyed; 0 unkeyed entries after the last keyed one (not yet sealed)" ]]
	run "$LETHEFS" audit verify --no-key "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"MACs were NOT checked"* ]]
	run "$LETHEFS" audit verify --json --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] and d["entries"]==6 and d["keyed"]==4' "$output"
	[ "$(stat -c %a "$LOG")" = 600 ]
}

@test "unkeyed entries at the end are reported as not yet sealed" {
	"$AUDIT_APPEND" --count 2 "$VAULT" lock success reason=manual
	verify
	[ "$status" -eq 0 ]
	[[ "$output" == *"8 entries, last seq 8, 4 keyed; 2 unkeyed"* ]]
}

@test "edited entry: exit 10, names the entry" {
	sed -i '4s/"slot":2/"slot":3/' "$LOG"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == "FAILED: entry seq 4 (line 4): edited (MAC mismatch)" ]]
}

@test "edited unkeyed entry sealed by a later keyed one" {
	sed -i '2s/wrong secret/right secret/' "$LOG"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"entry seq 2 (line 2): edited"* ]]
}

@test "deleted entries" {
	sed -i '3,4d' "$LOG"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"entries 3-4: deleted"* ]]
}

@test "inserted entry (a replayed copy)" {
	sed -n 2p "$LOG" >"$T/line"
	sed -i "4r $T/line" "$LOG"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"line 5 (seq 2): inserted (a copy of line 2)"* ]]
}

@test "reordered entries" {
	python3 - "$LOG" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).readlines()
lines[2], lines[3] = lines[3], lines[2]
open(p, "w").writelines(lines)
PY
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"entry seq 4 (line 3): reordered"* ]]
}

@test "truncated tail at a line boundary (the head file remembers)" {
	sed -i '$d' "$LOG"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"truncated tail: entry seq 6 deleted"* ]]
}

@test "partial last line" {
	truncate -s -20 "$LOG"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"truncated tail: line 6 is a partial entry"* ]]
	run "$LETHEFS" audit verify --no-key --json "$VAULT"
	[ "$status" -eq 10 ]
	[[ "$output" == *'"problem":"truncated"'* ]]
}

# A power cut before an append's fsync may keep the log's new length and
# not the page (FORMAT.md 12.11): NULs, perhaps the rest of the entry. The
# next append cuts that off (before it, the entry followed the NULs and
# verify called them an inserted line: sweep.py --power-cut, rotate N=140).
@test "a tail of NULs left by a power cut before an append's fsync is cut off by the next append" {
	head -c 300 /dev/zero >>"$LOG"
	printf 'x","event":"torn"}\n' >>"$LOG"
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" unlock success
	verify
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "OK: 7 entries, last seq 7, 5 keyed"* ]]
	[ "$(grep -ca torn "$LOG" || true)" = 0 ]
}

@test "NULs over an entry the head vouches for: the next append still reports the cut" {
	local last
	last=$(tail -n 1 "$LOG" | wc -c)
	truncate -s "-$last" "$LOG"
	head -c "$last" /dev/zero >>"$LOG"
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" unlock success
	verify
	echo "$output"
	[ "$status" -eq 10 ]
}

@test "wrong secret: exit 3; no vault: exit 4; usage: exit 2" {
	echo wrong >"$T/bad"
	run "$LETHEFS" audit verify --passfile "$T/bad" "$VAULT"
	[ "$status" -eq 3 ]
	run "$LETHEFS" audit verify --no-key "$T/nope"
	[ "$status" -eq 4 ]
	run "$LETHEFS" audit show "$T/nope"
	[ "$status" -eq 4 ]
	run "$LETHEFS" audit frob "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" audit verify --no-key --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" audit show --since soon "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" audit show --until 2026-13-01 "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" audit show --event 'Unlock!' "$VAULT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" audit --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: lethefs audit"* ]]
}

@test "show: one line per entry for people, raw JSON lines for scripts" {
	run "$LETHEFS" audit show "$VAULT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[0]}" == *" #1 mount success uid=0 pid="*" exe="*"audit_append loginuid="*" sessionid="*" mountpoint=\"/mnt/x\"" ]]
	[[ "${lines[1]}" == *"unlock failure"*'error="wrong secret" [unkeyed]' ]]
	[[ "${lines[3]}" == *'slot=2 type="passphrase"' ]]
	run "$LETHEFS" audit show --json "$VAULT"
	[ "$status" -eq 0 ]
	cmp <(printf '%s\n' "$output") "$LOG"
	printf '%s\n' "$output" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
assert rows[3]["details"] == {"slot": 2, "type": "passphrase"}
assert "mac" in rows[0] and "mac" not in rows[1]'
}

@test "show --since: an ISO time, a date, a duration" {
	# Backdate the first three entries (show does not verify).
	sed -i '1,3s/"time":"[0-9]\{4\}-/"time":"2020-/' "$LOG"
	run "$LETHEFS" audit show --since 1h "$VAULT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == *"#4 keyslot-add"* ]]
	run "$LETHEFS" audit show --since 2021-01-01 "$VAULT"
	[ "${#lines[@]}" -eq 3 ]
	run "$LETHEFS" audit show --json --since 2019-12-31T23:59:59Z "$VAULT"
	[ "${#lines[@]}" -eq 6 ]
	run "$LETHEFS" audit show --since 2100-01-01 "$VAULT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "show --since/--until: what journalctl accepts, local time unless a zone is given" {
	# Entries 1-3 on 2026-12-01 at 09:59:59, 10:00:00 and 10:30:00 UTC
	# (show does not verify), the others now.
	sed -i '1s/"time":"[^"]*"/"time":"2026-12-01T09:59:59.000Z"/' "$LOG"
	sed -i '2s/"time":"[^"]*"/"time":"2026-12-01T10:00:00.000Z"/' "$LOG"
	sed -i '3s/"time":"[^"]*"/"time":"2026-12-01T10:30:00.500Z"/' "$LOG"
	count() { run "$LETHEFS" audit show "$@" "$VAULT"; [ "$status" -eq 0 ]; echo "${#lines[@]}"; }
	export TZ=UTC
	[ "$(count --since '2026-12-01 10:00')" -eq 5 ]
	[ "$(count --since '2026-12-01 10:00:00' --until '2026-12-01 10:30')" -eq 1 ]
	[ "$(count --since 2026-12-01 --until '2026-12-01T10:30:01Z')" -eq 3 ]
	[ "$(count --until '2026-12-01 10:00 UTC')" -eq 2 ]
	[ "$(count --since today)" -eq 3 ]
	[ "$(count --since yesterday --until tomorrow)" -eq 3 ]
	[ "$(count --since -1h)" -eq 3 ]
	[ "$(count --since '1h ago')" -eq 3 ]
	[ "$(count --until '-1h')" -eq 3 ]
	[ "$(count --since "@$(date -d '2026-12-01 10:00:00Z' +%s)")" -eq 5 ]
	[ "$(count --since "$(date -u -d 2026-12-01 +%a) 2026-12-01 10:00")" -eq 5 ]
	# Local time: in Berlin (UTC+1 in December) 11:00 is 10:00 UTC.
	[ "$(TZ=Europe/Berlin count --since '2026-12-01 11:00')" -eq 5 ]
	[ "$(TZ=Europe/Berlin count --since '2026-12-01 11:00' --until '2026-12-01 11:30:00')" -eq 1 ]
	[ "$(TZ=Europe/Berlin count --since '2026-12-01T10:00:00Z')" -eq 5 ]
	[ "$(TZ=Europe/Berlin count --since '2026-12-01 10:00:00+00:00')" -eq 5 ]
}

@test "show --event: one event or several" {
	run "$LETHEFS" audit show --event unlock "$VAULT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *"#2 unlock failure"* ]]
	[[ "${lines[1]}" == *"#3 unlock success"* ]]
	run "$LETHEFS" audit show --json --event lock --event keyslot-add "$VAULT"
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *'"seq":4,'* && "${lines[1]}" == *'"seq":5,'* ]]
	run "$LETHEFS" audit show --event rotate "$VAULT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "hostile strings cannot break a line or reach the terminal" {
	"$AUDIT_APPEND" "$VAULT" socket-refused refused "error=$(printf 'x"}\n{"seq":99\033[31m')"
	[ "$(wc -l <"$LOG")" -eq 7 ]
	assert_no_match $'\033' "$LOG"
	run "$LETHEFS" audit show "$VAULT"
	[[ "${lines[6]}" == *'error="x\"}\n{\"seq\":99\u001b[31m"'* ]]
	verify
	[ "$status" -eq 0 ]
}

@test "a configured log path relative to the vault" {
	mkdir "$VAULT/logs"
	printf '[audit]\nlog = logs/x.audit\n' >>"$VAULT/lethefs.conf"
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" mount success
	[ -f "$VAULT/logs/x.audit" ] && [ -f "$VAULT/logs/x.audit.head" ]
	verify
	[ "$status" -eq 0 ]
	[[ "$output" == "OK: 1 entries"* ]]
}

# The head file an attacker writes after cutting the log: unkeyed, naming
# line $1 of the log by its seq and hash.
forge_unkeyed_head() {
	python3 - "$LOG" "$1" <<'PY'
import hashlib, json, sys
log, n = sys.argv[1], int(sys.argv[2])
line = open(log, "rb").read().split(b"\n")[n - 1]
seq = json.loads(line)["seq"]
h = hashlib.blake2b(line, digest_size=32).hexdigest()
open(log + ".head", "w").write('{"seq":%d,"hash":"%s"}\n' % (seq, h))
PY
}

@test "cut attack: the first lines kept, an unkeyed head naming the last kept keyed line" {
	sed -i '5,$d' "$LOG"
	forge_unkeyed_head 4
	verify
	echo "$output"
	[ "$status" -eq 10 ]
	[[ "$output" == *"keyed entry seq 6"* || "$output" == *"not authenticated"* ]]
	run "$LETHEFS" audit verify --no-key "$VAULT"
	[ "$status" -eq 10 ]
}

@test "cut attack: the next keyed append does not seal the cut" {
	sed -i '5,$d' "$LOG"
	forge_unkeyed_head 4
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" mount success
	verify
	echo "$output"
	[ "$status" -eq 10 ]
	run "$LETHEFS" audit show --json "$VAULT"
	[[ "$output" == *'"event":"audit-check","outcome":"failure"'* ]]
}

@test "cut attack: head deleted, then unkeyed and keyed appends" {
	sed -i '5,$d' "$LOG"
	rm "$LOG.head"
	"$AUDIT_APPEND" "$VAULT" unlock failure "error=wrong secret"
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" unlock success
	verify
	echo "$output"
	[ "$status" -eq 10 ]
}

@test "cut attack: the authenticated head is kept, the log cut under it" {
	cp "$LOG.head" "$T/head"
	sed -i '4,$d' "$LOG"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"truncated tail"* ]]
	# The next unkeyed append (a locked volume) finds the cut too.
	"$AUDIT_APPEND" "$VAULT" unlock failure "error=wrong secret"
	"$AUDIT_APPEND" --passfile "$T/pass" "$VAULT" unlock success
	verify
	echo "$output"
	[ "$status" -eq 10 ]
}
