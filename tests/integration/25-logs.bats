#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Logging: every daemon line names the vault's uuid, and no secret is ever
# logged. A debug-level daemon (which logs every request) and the CLI go
# through unlocks (right and wrong), locks, keyslot changes, a key export,
# a rotation and a staging shred; then the daemon log, everything the
# commands printed to stderr, and the audit log are searched for every
# passphrase, the recovery key and every key the vault holds.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

@test "daemon lines carry the uuid; no passphrase, recovery key or key in any log" {
	TOOLS=$BATS_TEST_DIRNAME/../../build/tests/tools
	[ -x "$TOOLS/dump_keys" ] || skip "test tools not built"
	uuid=$(sed -n 's/^uuid = //p' "$VAULT/lethefs.conf")
	printf 'second-secret-passphrase\n' >"$T/pass2"
	printf 'a-wrong-guess-passphrase\n' >"$T/wrong"
	mount_logged -d
	exec 5>>"$T/cli.log"
	{
		echo data >"$MNT/f"
		"$LETHEFS" lock "$MNT"
		"$LETHEFS" unlock --passfile "$T/wrong" "$MNT" || true
		"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
		"$LETHEFS" keyslot add --new-passfile "$T/pass2" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
			--passfile "$T/pass" "$VAULT"
		"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >"$T/recovery"
		"$LETHEFS" rotate --wait "$MNT"
		"$LETHEFS" stage create --ttl 1h "$MNT/job"
		echo staged >"$MNT/job/g"
		"$LETHEFS" stage shred "$MNT/job"
		"$LETHEFS" lock "$MNT"
		"$LETHEFS" unlock --recovery-key --passfile "$T/recovery" "$MNT"
		"$LETHEFS" passwd --passfile "$T/pass2" --new-passfile "$T/wrong" --allow-weak-kdf --kdf-ops 1 \
			--kdf-mem 8M "$VAULT"
	} >/dev/null 2>&5
	"$TOOLS/dump_keys" "$VAULT" "$T/pass" >"$T/keys"
	unmount_vault
	grep -c . "$T/daemon.log"
	# Every daemon line names the vault.
	! grep -v "uuid=$uuid" "$T/daemon.log" | grep '^lethefs: ' || false
	grep -q "uuid=$uuid.*unlocked by" "$T/daemon.log"
	# Nothing secret anywhere.
	recovery=$(tr -d '\n' <"$T/recovery")
	python3 - "$T/keys" "$recovery" "$(cat "$T/pass")" "$(cat "$T/pass2")" \
		"$(cat "$T/wrong")" "$T/daemon.log" "$T/cli.log" "$VAULT/lethefs.audit" <<'PY'
import base64, sys
keys_file, recovery, *secrets = sys.argv[1:6]
logs = sys.argv[6:]
needles = {"recovery key": recovery.encode(), "recovery key (bare)":
           recovery.replace("-", "").encode()}
for i, s in enumerate(secrets):
    needles["passphrase %d" % i] = s.encode()
for line in open(keys_file):
    name, hexkey = line.split()
    k = bytes.fromhex(hexkey)
    needles[name + " (raw)"] = k
    needles[name + " (hex)"] = hexkey.encode()
    needles[name + " (base64)"] = base64.b64encode(k).rstrip(b"=")
found = []
for path in logs:
    data = open(path, "rb").read()
    assert data, path + " is empty"
    found += ["%s in %s" % (n, path) for n, v in needles.items() if v and v in data]
print("\n".join(found))
sys.exit(1 if found else 0)
PY
}
