#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Rotation against the backing-store writer and against trees built to
# break it (issue 11): forged journals are never applied, a tree of any
# depth rotates with the daemon alive, an object the walk cannot read keeps
# the old epoch (fail-closed), staging markers are not errors, and a retry
# never adds an epoch while a rotation is unfinished.

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

epochs_in_keyring() { # data epochs + audit entry: (size - 80) / 40
	echo $((($(stat -c %s "$VAULT/lethefs.keyring") - 80) / 40))
}

@test "a forged rotation journal of the old format is reported and never applied" {
	head -c 20000 /dev/urandom >"$T/f"
	cp "$T/f" "$MNT/f"
	head -c 20000 /dev/urandom >"$MNT/g"
	sync
	F=$(backing_of f)
	G=$(backing_of g)
	unmount_vault
	[ -n "$F" ] && [ -n "$G" ] && [ "$F" != "$G" ]
	# The attack: a journal giving F G's header with the SPARSE flag set,
	# then F's first block zeroed and G's second block copied into F.
	python3 - "$VAULT" "$F" "$G" <<'PY'
import hashlib, os, struct, sys
vault, f, g = sys.argv[1:]
st = os.stat(f)
old = open(f, 'rb').read(48)
new = bytearray(open(g, 'rb').read(48)); new[6] |= 1   # flags: SPARSE
rel = os.path.relpath(f, os.path.join(vault, 'd')).encode()
body = b'LTHJ' + bytes([1, 1, 0, 0]) + struct.pack('<QQiI', st.st_dev, st.st_ino, 0, 0)
body += bytes(128) + old + bytes(new) + struct.pack('<I', len(rel)) + rel
body += hashlib.blake2b(body, digest_size=16).digest()
open(os.path.join(vault, 'lethefs.rotation.journal'), 'wb').write(body)
bd = 4096 + 40
data = bytearray(open(f, 'rb').read())
gdata = open(g, 'rb').read()
data[48:48 + bd] = bytes(bd)
data[48 + bd:48 + 2 * bd] = gdata[48 + bd:48 + 2 * bd]
open(f, 'wb').write(data)
PY
	cp "$F" "$T/f.backing"
	mount_vault
	# Not applied: F's header and blocks are as the attacker left them, so
	# the zeroed and the copied block fail (EIO), never G's data.
	cmp "$F" "$T/f.backing"
	run cat "$MNT/f"
	[ "$status" -ne 0 ]
	[ -e "$VAULT/lethefs.rotation.journal" ]
	grep -q '"event":"rotate","outcome":"legacy-journal-ignored"' "$VAULT/lethefs.audit"
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 6 ]
	[[ "$output" == *"lethefs.rotation.journal"*"not applied"* ]]
	# Even on the administrator's word its forged header is refused.
	run "$LETHEFS" fsck --passfile "$T/pass" --repair --apply-legacy-journal "$VAULT"
	echo "$output"
	[[ "$output" == *"lethefs.rotation.journal"*"Invalid argument"* ]]
	cmp "$F" "$T/f.backing"
}

@test "a forged, copied or foreign journal record is rejected, audited and never applied" {
	echo data >"$MNT/f"
	sync
	unmount_vault
	# Slot 0 filled with a record-shaped forgery (magic, lengths, garbage
	# MAC), slot 1 with random bytes.
	python3 - "$VAULT/lethefs.journal" <<'PY'
import os, struct, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR)
rec = b'LTHR' + bytes([1, 1, 0, 0]) + struct.pack('<Q', 1) + bytes(160) + struct.pack('<II', 0, 56) + bytes(8)
rec += bytes(56) + os.urandom(32)
os.pwrite(fd, rec, 4096)
os.pwrite(fd, os.urandom(400), 4096 + 16384)
os.close(fd)
PY
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[[ "$output" == *"2 journal record(s) do not authenticate"* ]]
	mount_vault
	[ "$(cat "$MNT/f")" = data ]
	grep -q '"event":"recover","outcome":"success".*"rejected":2' "$VAULT/lethefs.audit"
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" != *"do not authenticate"* ]]
}

@test "a 5,000-level deep tree rotates to the end with the daemon alive" {
	python3 - "$MNT" <<'PY'
import os, sys
os.chdir(sys.argv[1])
for i in range(5000):
    os.mkdir('d')
    os.chdir('d')
with open('leaf', 'w') as f:
    f.write('deep\n')
os.symlink('leaf', 'link')
PY
	run "$LETHEFS" rotate --wait --json "$MNT"
	echo "$output" | tail -3
	[ "$status" -eq 0 ]
	[[ "$output" == *'"rotation_state":"idle"'* ]]
	[[ "$output" == *'"rotation_last_retired_epoch":1'* ]]
	[ "$(epochs_in_keyring)" -eq 1 ]
	run python3 - "$MNT" <<'PY'
import os, sys
os.chdir(sys.argv[1])
for i in range(5000):
    os.chdir('d')
print(open('leaf').read().strip(), os.readlink('link'))
PY
	[ "$output" = "deep leaf" ]
	unmount_vault
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT" >/dev/null
}

@test "an object the walk cannot read keeps the old epoch; a retry adds no epoch" {
	mkdir -p "$MNT/a/b"
	echo inside >"$MNT/a/b/f"
	echo outside >"$MNT/top"
	sync
	# The backing directory of a/b, found by inode: rotation renames it.
	bdir() { find "$VAULT/d" -inum "$(stat -c %i "$MNT/a/b")" -type d; }
	B=$(bdir)
	# The subtree cannot be read: its directory id is damaged.
	cp "$B/.lethefs.dir" "$T/dirmeta"
	chmod u+w "$B/.lethefs.dir"
	printf 'XXXX' | dd of="$B/.lethefs.dir" conv=notrunc status=none
	run "$LETHEFS" rotate --wait "$MNT"
	echo "$output"
	[ "$status" -eq 14 ] || [ "$status" -ne 0 ]
	# Epoch 1 kept: files of the unread subtree may still be under it.
	[ "$(epochs_in_keyring)" -eq 2 ]
	grep -q '"event":"rotate","outcome":"failure"' "$VAULT/lethefs.audit"
	# Retrying adds no epoch while this rotation is unfinished.
	run "$LETHEFS" rotate --wait "$MNT"
	[ "$(epochs_in_keyring)" -eq 2 ]
	# Repaired, the retry finishes and retires epoch 1.
	B=$(find "$VAULT/d" -mindepth 2 -maxdepth 2 -type d)
	cp "$T/dirmeta" "$B/.lethefs.dir"
	unmount_vault
	mount_vault
	run "$LETHEFS" rotate --wait --json "$MNT"
	echo "$output" | tail -2
	[ "$status" -eq 0 ]
	[ "$(epochs_in_keyring)" -eq 1 ]
	[ "$(cat "$MNT/a/b/f")" = inside ]
	[ "$(cat "$MNT/top")" = outside ]
}

@test "a vault with staging directories rotates to completion" {
	"$LETHEFS" stage create --ttl 1h "$MNT/job" >/dev/null
	echo migrating >"$MNT/job/f"
	echo plain >"$MNT/g"
	run "$LETHEFS" rotate --wait --json "$MNT"
	echo "$output" | tail -2
	[ "$status" -eq 0 ]
	[[ "$output" == *'"rotation_state":"idle"'* ]]
	[[ "$output" == *'"rotation_errors":0'* ]]
	[ "$(epochs_in_keyring)" -eq 1 ]
	[ "$(cat "$MNT/job/f")" = migrating ]
	[ "$(cat "$MNT/g")" = plain ]
}
