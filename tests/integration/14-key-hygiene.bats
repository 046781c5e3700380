#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Key hygiene: the daemon holds keys only while unlocked. A core image of
# the daemon (gdb's gcore, including the mappings that are excluded from
# ordinary core dumps) holds the master key and derived keys while the
# volume is unlocked, and none of them, nor the passphrase, once locked --
# except the audit key, which the daemon keeps from the first unlock to
# unmount so that entries written while locked stay keyed (it MACs audit
# entries and keyslot labels and decrypts nothing; THREAT-MODEL.md 3.3).
# Before the first unlock the daemon holds no key at all.

load helpers

setup() {
	command -v gdb >/dev/null || skip "gdb not installed"
	# AddressSanitizer reserves terabytes of shadow memory: a core image of
	# a sanitized daemon is impractical (and its allocator is not ours).
	if nm -D "$LETHEFS" 2>/dev/null | grep -q __asan_init; then
		skip "sanitizer build"
	fi
	setup_vault
	TOOLS=$BATS_TEST_DIRNAME/../../build/tests/tools
}
teardown() { [ -z "${T:-}" ] || teardown_vault; }

daemon_pid() {
	"$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}

# Writes a core image of the daemon to $1, mappings marked "do not dump"
# (sodium_malloc's guarded pages) included.
core_of_daemon() {
	gdb -batch -nx -p "$(daemon_pid)" -ex "set dump-excluded-mappings on" \
		-ex "gcore $1" >/dev/null 2>&1
	[ -s "$1" ]
}

# Prints the names of the keys of $T/keys (and the passphrase) found in $1.
keys_in_core() {
	python3 - "$1" "$T/keys" "$PASS" <<'PY'
import sys
core = open(sys.argv[1], "rb").read()
for line in open(sys.argv[2]):
    name, hexkey = line.split()
    if bytes.fromhex(hexkey) in core:
        print(name)
if sys.argv[3].encode() in core:
    print("passphrase")
PY
}

@test "keys are in the daemon's memory while unlocked and gone after lock" {
	# -o iattr: the inode-attribute key is used too (FORMAT.md 14.9).
	mount_vault -o iattr
	mkdir "$MNT/records"
	for i in 1 2 3; do head -c 100000 /dev/urandom >"$MNT/records/r$i"; done
	# Requests of 1 MiB: their whole blocks are sealed on the sealing
	# pool's helper threads too (fs/fileio_seal.c), whose stacks must not
	# keep what the cipher left there.
	dd if=/dev/urandom of="$MNT/records/big" bs=1M count=8 conv=fsync status=none
	echo "patient" >"$MNT/records/name"
	ln -s records/name "$MNT/link"
	setfattr -n user.note -v labdata "$MNT/records/name"
	cat "$MNT"/records/* "$MNT/link" >/dev/null
	getfattr -d "$MNT/records/name" >/dev/null
	"$TOOLS/dump_keys" "$VAULT" "$T/pass" >"$T/keys"
	[ "$(grep -c '^file ' "$T/keys")" -ge 5 ]

	# The positive control: without it, a search that can never match
	# (wrong encoding, dump without the guarded pages) would pass.
	core_of_daemon "$T/core.unlocked"
	found=$(keys_in_core "$T/core.unlocked")
	echo "unlocked: $found" >&3
	[[ "$found" == *master* ]]
	[[ "$found" == *content* ]]
	[[ "$found" == *name-enc* ]]
	[[ "$found" == *iattr* ]]
	[[ "$found" == *audit* ]]
	rm -f "$T/core.unlocked"

	"$LETHEFS" lock "$MNT"
	core_of_daemon "$T/core.locked"
	found=$(keys_in_core "$T/core.locked")
	rm -f "$T/core.locked"
	echo "locked: ${found:-none}" >&3
	# The audit key alone, and it is what keys the lock's own entry.
	[ "$found" = audit ]
	"$LETHEFS" audit show --json "$VAULT" | tail -n 1 | grep -q '"event":"lock".*"mac":'
}

@test "a locked mount and an unlock over the socket leave no key or secret behind after lock" {
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	"$TOOLS/dump_keys" "$VAULT" "$T/pass" >"$T/keys"
	core_of_daemon "$T/core.boot"
	# Never unlocked: no key at all, not even the audit key.
	[ -z "$(keys_in_core "$T/core.boot")" ]
	printf "wrong\n" >"$T/wrong"
	"$LETHEFS" unlock --passfile "$T/wrong" "$MNT" 2>/dev/null || true
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	echo data >"$MNT/f"
	cat "$MNT/f" >/dev/null
	"$TOOLS/dump_keys" "$VAULT" "$T/pass" >"$T/keys"
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" 2>/dev/null >"$T/recovery"
	# The exported recovery key is the master key the search looks for.
	python3 - "$T/recovery" "$T/keys" <<'PY'
import base64, sys
text = open(sys.argv[1]).read().strip().replace("-", "")
assert text.startswith("LRK1")
master = base64.b32decode(text[4:])[:32].hex()
keys = dict(l.split()[::-1] for l in open(sys.argv[2]))
assert keys[master] == "master", "exported key is not the master key"
PY
	"$LETHEFS" lock "$MNT"
	"$LETHEFS" unlock --recovery-key --passfile "$T/recovery" "$MNT"
	"$LETHEFS" lock "$MNT"
	core_of_daemon "$T/core.relocked"
	found=$(keys_in_core "$T/core.relocked")
	rm -f "$T"/core.*
	echo "after unlock and lock: ${found:-none}" >&3
	[ "$found" = audit ]
}
