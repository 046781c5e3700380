#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Write-behind of shared mounts (fs/sharedwb.h, docs/SHARED.md "Writes are
# acknowledged before they reach the engine"): a vault in a local directory
# mounted with -o shared, WRITEs queued and acknowledged, written by a
# worker. What was written reads back, a deferred error reaches close(2) or
# fsync(2) and never a false success, and a kill -9 loses only what was not
# fsync'd. (Two hosts writing disjoint ranges of one file at once, through
# this path too: 56-shared-local.bats.)

load helpers

setup() {
	setup_vault
}

teardown() {
	if [ -n "${SMALL:-}" ]; then
		unmount_vault || true
		mountpoint -q "$SMALL" && { umount "$SMALL" || umount -l "$SMALL"; }
	fi
	teardown_vault
}

@test "shared write-behind: a large sequential write reads back byte for byte, also before close, and after a remount" {
	mount_vault -o shared
	head -c $((40 << 20)) /dev/urandom >"$T/data"
	dd if="$T/data" of="$MNT/big" bs=1M status=none
	cmp "$T/data" "$MNT/big"
	# Read after write through another descriptor while the writer's is
	# still open (nothing closed or synced yet), and the size it shows.
	python3 - "$T/data" "$MNT/f" <<'PY'
import os, sys
data = open(sys.argv[1], "rb").read()[: 12 << 20]
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o600)
for off in range(0, len(data), 1 << 20):
    os.write(fd, data[off : off + (1 << 20)])
assert os.stat(sys.argv[2]).st_size == len(data), "size before close"
with open(sys.argv[2], "rb") as r:
    assert r.read() == data, "read before close"
os.pwrite(fd, b"X" * 5000, 3 << 20)  # an overwrite queued behind the appends
with open(sys.argv[2], "rb") as r:
    r.seek(3 << 20)
    assert r.read(5000) == b"X" * 5000, "overwrite before close"
os.close(fd)
PY
	unmount_vault
	mount_vault -o shared
	cmp "$T/data" "$MNT/big"
	[ "$(stat -c %s "$MNT/f")" -eq $((12 << 20)) ]
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

# Writes 1 MiB chunks until $3 MiB are written or a write fails, then $2
# (fsync or close); prints what failed: "write N errno", "fsync errno",
# "close errno" (or "none"), and for fsync, what a second fsync says.
full_disk_writer() { # path end MiB: 1 MiB writes (err_writer.py)
	python3 "$BATS_TEST_DIRNAME/err_writer.py" "$1" $(($3 * 1024)) "$2" 1024
}

@test "shared write-behind: a full backing filesystem fails fsync(2) or close(2), never silently, once" {
	small_vault 12
	mount_vault -o shared
	head -c 1000000 /dev/urandom >"$T/keep"
	cp "$T/keep" "$MNT/keep"
	sync "$MNT/keep"
	# 24 MiB into a 12 MiB disk: write(2)s succeed (queued) until the
	# worker meets the full disk; the next write(2) fails (or none does, if
	# the writes ended first), and fsync(2) reports the error: once.
	run full_disk_writer "$MNT/a" fsync 24
	echo "$output"
	[[ "$output" =~ ^(write\ [0-9]+\ ENOSPC\ )?fsync\ ENOSPC\ fsync\ ok\ close\ ok$ ]]
	rm -f "$MNT/a"
	# The same without fsync: close(2) reports it.
	run full_disk_writer "$MNT/b" close 24
	echo "$output"
	[[ "$output" =~ ^(write\ [0-9]+\ ENOSPC\ )?close\ ENOSPC$ ]]
	rm -f "$MNT/b"
	# Nothing else was harmed, and the freed space takes writes again.
	cmp "$T/keep" "$MNT/keep"
	run full_disk_writer "$MNT/c" fsync 4
	echo "$output"
	[ "$output" = "fsync ok fsync ok close ok" ]
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "shared write-behind: kill -9 mid-stream loses only what was not fsync'd; remount and fsck clean" {
	mount_vault -o shared
	head -c $((8 << 20)) /dev/urandom >"$T/prefix"
	python3 - "$T/prefix" "$MNT/f" "$T/synced" <<'PY' &
import os, sys
prefix = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, prefix)
os.fsync(fd)
open(sys.argv[3], "w").close()
try:
    while True:
        os.write(fd, os.urandom(1 << 20))
except OSError:
    pass
PY
	writer=$!
	wait_for_file "$T/synced"
	[ -f "$T/synced" ]
	sleep 0.5 # a few more MiB acknowledged, some queued
	pkill -9 -f "lethefs mount .*$VAULT"
	wait "$writer" || true
	fusermount3 -u "$MNT" || umount -l "$MNT"
	for _ in $(seq 50); do
		pgrep -f "lethefs mount .*$VAULT" >/dev/null || break
		sleep 0.1
	done
	mount_vault -o shared
	size=$(stat -c %s "$MNT/f")
	echo "size after the kill: $size"
	[ "$size" -ge $((8 << 20)) ]
	cmp -n $((8 << 20)) "$T/prefix" "$MNT/f"
	cat "$MNT/f" >/dev/null # every block after it authenticates
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "shared write-behind: -o shared_sync writes synchronously; a lock drains the queue first" {
	mount_vault -o shared_sync
	head -c $((6 << 20)) /dev/urandom >"$T/data"
	dd if="$T/data" of="$MNT/s" bs=1M status=none
	cmp "$T/data" "$MNT/s"
	unmount_vault
	mount_vault -o shared
	# Written, not closed, then the vault locked (forced: a file is open).
	held_writer "$T/data" "$MNT/w" 3
	"$LETHEFS" lock --force "$MNT"
	wait "$writer" || true
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	cmp "$T/data" "$MNT/w"
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "shared write-behind: a staging quota is charged before the write is acknowledged, refunded when freed" {
	mount_vault -o shared
	"$LETHEFS" stage create --ttl 1h --quota 1M "$MNT/q"
	head -c 600000 /dev/urandom >"$T/a"
	dd if="$T/a" of="$MNT/q/a" bs=64k status=none
	run dd if=/dev/zero of="$MNT/q/b" bs=100000 count=6
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"quota exceeded"* ]]
	cmp "$T/a" "$MNT/q/a"
	used=$(getfattr --only-values -n user.lethefs.used "$MNT/q")
	[ "$used" -eq $((600000 + $(stat -c %s "$MNT/q/b"))) ]
	rm "$MNT/q/a" "$MNT/q/b"
	head -c 900000 /dev/urandom >"$T/c"
	dd if="$T/c" of="$MNT/q/c" bs=64k status=none
	cmp "$T/c" "$MNT/q/c"
	[ "$(getfattr --only-values -n user.lethefs.used "$MNT/q")" -eq 900000 ]
}

@test "shared write-behind: a small file's writes in quick succession reach the backing file as one segment, intact" {
	command -v strace >/dev/null || skip "no strace"
	mount_vault -o shared
	pid=$("$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	strace -f -qq -e trace=fcntl -o "$T/strace" -p "$pid" &
	sp=$!
	sleep 1
	# As tar writes a small file: three write(2)s of one file, then close.
	python3 - "$MNT" <<'PY'
import os, sys
for i in range(20):
    fd = os.open(os.path.join(sys.argv[1], "f%d" % i), os.O_WRONLY | os.O_CREAT, 0o644)
    for part in range(3):
        os.write(fd, bytes([65 + part]) * 3000)
    os.close(fd)
PY
	sleep 0.5
	kill -INT "$sp"
	wait "$sp" || true
	# One write lock on each file's length per segment (fs/filelock.h);
	# before the worker gathered (fs/sharedwb.c), the first write went
	# alone: 39 for the 20 files when measured. Slack for a writer descheduled
	# longer than the gathering time.
	n=$(grep -c 'F_WRLCK, l_whence=SEEK_SET, l_start=4611686018427387904' "$T/strace" || true)
	echo "# length locks for 20 files: $n"
	[ "$n" -ge 20 ]
	[ "$n" -le 26 ]
	want=$(python3 -c 'import sys; sys.stdout.write("A" * 3000 + "B" * 3000 + "C" * 3000)')
	for i in $(seq 0 19); do
		[ "$(cat "$MNT/f$i")" = "$want" ]
	done
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}
