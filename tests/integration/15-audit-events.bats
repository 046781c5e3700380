#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The security events of real commands and a real daemon land in the
# vault's audit log, with the caller, and the log verifies; an edit of any
# of them is caught.

load helpers

setup() {
	setup_vault
	chmod 755 "$T"
	printf 'wrong\n' >"$T/wrong"
}
teardown() { teardown_vault; }
# The users made for these tests go with them (useradd also made each a
# group of its own, which userdel removes).
teardown_file() {
	for u in lfssa-it; do userdel "$u" 2>/dev/null || true; done
}

# Prints "event outcome reason" per entry (reason or "-").
events() {
	"$LETHEFS" audit show --json "$VAULT" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e["event"], e["outcome"], e.get("details", {}).get("reason", "-"))'
}

@test "daemon events: mount, failed and good unlock, locks of every kind, refusal, unmount" {
	id lfssa-it >/dev/null 2>&1 || useradd -M -s /bin/sh lfssa-it
	printf '[access]\nidle_lock = 2s\n' >>"$VAULT/lethefs.conf"
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	sock=/run/lethefs/$(sed -n 's/^uuid = //p' "$VAULT/lethefs.conf").sock
	run "$LETHEFS" unlock --passfile "$T/wrong" "$MNT"
	[ "$status" -eq 3 ]
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	"$LETHEFS" lock "$MNT"
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	exec 4<"$MNT"
	"$LETHEFS" lock --force "$MNT"
	exec 4<&-
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	for _ in $(seq 60); do
		"$LETHEFS" status --json "$MNT" | grep -q '"state":"locked"' && break
		sleep 0.1
	done
	setpriv --reuid=lfssa-it --regid=lfssa-it --clear-groups \
		--inh-caps=+dac_override --ambient-caps=+dac_override \
		"$LETHEFS" status --socket "$sock" "$MNT" || true
	unmount_vault
	run events
	echo "$output"
	[ "${lines[0]}" = "mount success -" ]
	[ "${lines[1]}" = "unlock failure -" ]
	[ "${lines[2]}" = "unlock success -" ]
	[ "${lines[3]}" = "lock success manual" ]
	[ "${lines[4]}" = "unlock success -" ]
	[ "${lines[5]}" = "lock success forced" ]
	[ "${lines[6]}" = "unlock success -" ]
	[ "${lines[7]}" = "lock success idle" ]
	[ "${lines[8]}" = "socket-refused refused -" ]
	[ "${lines[9]}" = "unmount success -" ]
	# Keyed from the first unlock on, also while locked (the daemon keeps
	# the audit key): only the mount and the failed unlock before it are not.
	"$LETHEFS" audit show --json "$VAULT" | python3 -c '
import json, sys
keyed = ["mac" in json.loads(l) for l in sys.stdin]
assert keyed == [False, False] + [True] * 8, keyed'
	# The failed unlock names who tried: uid, pid and executable.
	"$LETHEFS" audit show --json "$VAULT" | sed -n 2p | python3 -c '
import json, sys
e = json.load(sys.stdin)
assert e["uid"] == 0 and e["pid"] > 0 and e["exe"].endswith("/lethefs"), e
assert e["details"]["error"] == "wrong secret" and e["details"]["failures"] == 1, e'
	"$LETHEFS" audit show --json "$VAULT" | sed -n 9p | grep -q "\"uid\":$(id -u lfssa-it)"
	run "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == OK:* ]]
}

@test "CLI events: keyslot add, remove, passwd, key export, a wrong secret; verify catches an edit" {
	printf 'second\n' >"$T/second"
	"$LETHEFS" keyslot add --new-passfile "$T/second" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
		--passfile "$T/pass" "$VAULT" >/dev/null
	"$LETHEFS" passwd --passfile "$T/second" --new-passfile "$T/wrong" --allow-weak-kdf --kdf-ops 1 \
		--kdf-mem 8M "$VAULT" >/dev/null
	"$LETHEFS" keyslot remove --slot 1 --passfile "$T/pass" "$VAULT" >/dev/null
	run "$LETHEFS" keyslot remove --slot 0 --passfile "$T/pass" "$VAULT"
	[ "$status" -ne 0 ]
	run "$LETHEFS" key export --passfile "$T/second" "$VAULT"
	[ "$status" -eq 3 ]
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >/dev/null 2>&1
	run events
	echo "$output"
	[ "${lines[0]}" = "keyslot-add success -" ]
	[ "${lines[1]}" = "passwd success -" ]
	[ "${lines[2]}" = "keyslot-remove success -" ]
	[ "${lines[3]}" = "keyslot-remove refused -" ]
	[ "${lines[4]}" = "unlock failure -" ]
	[ "${lines[5]}" = "key-export success -" ]
	"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	# Someone hides the key export.
	sed -i 's/"key-export"/"keyslot-add"/' "$VAULT/lethefs.audit"
	run "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 10 ]
	[[ "$output" == *"seq 6"*"edited"* ]]
}

@test "a mount refuses to start when the audit log cannot be written" {
	printf '[audit]\nlog = nonexistent-dir/x.audit\n' >>"$VAULT/lethefs.conf"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"audit log"* ]]
	assert_not_mounted "$MNT"
}
