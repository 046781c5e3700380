#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The daemon counts the FUSE requests it receives by operation (status
# member fuse_requests, Prometheus lethefs_fuse_requests_total): a known
# sequence of system calls must move the counters by the known amounts.

load helpers

setup() { setup_vault; }
teardown() {
	unmount_vault || true
	if mountpoint -q "$T/small" 2>/dev/null; then umount "$T/small" || umount -l "$T/small"; fi
	teardown_vault
}

# The fuse_requests object of the mount's status, as "op N" lines.
requests() {
	"$LETHEFS" status --json "$MNT" |
		python3 -c 'import json,sys; [print(k, v) for k, v in json.load(sys.stdin)["fuse_requests"].items()]'
}

# How far op moved between two requests() snapshots.
delta() { # before after op
	echo $(($(awk -v o="$3" '$1 == o { print $2 }' "$2") - $(awk -v o="$3" '$1 == o { print $2 }' "$1")))
}

# Takes the after snapshot once N RELEASEs have arrived since before (up to
# 5 s): the kernel sends RELEASE after close(2) has returned, in the
# background, so a snapshot taken at once may not count it yet.
requests_after_releases() { # before after N
	for _ in $(seq 50); do
		requests >"$2"
		[ "$(delta "$1" "$2" release)" -ge "$3" ] && return 0
		sleep 0.1
	done
}

@test "create, write and close of one file move create, write, flush and release by one" {
	mount_vault
	requests >"$T/before"
	# One open(O_CREAT|O_EXCL), one write(2), one close(2): the kernel sends
	# CREATE, then (writeback cache) one WRITE, FLUSH and RELEASE at close.
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
os.write(fd, b"x" * 100)
os.close(fd)' "$MNT/one"
	requests_after_releases "$T/before" "$T/after" 1
	paste "$T/before" "$T/after"
	for op in create write release; do
		echo "$op: $(delta "$T/before" "$T/after" $op)"
		[ "$(delta "$T/before" "$T/after" $op)" -eq 1 ]
	done
	# The first close sends a FLUSH (answered ENOSYS on this local backing).
	[ "$(delta "$T/before" "$T/after" flush)" -le 1 ]
	for op in mkdir unlink rename mknod symlink link rmdir; do
		[ "$(delta "$T/before" "$T/after" $op)" -eq 0 ]
	done
	requests >"$T/before"
	rm "$MNT/one"
	mkdir "$MNT/d"
	requests >"$T/after"
	[ "$(delta "$T/before" "$T/after" unlink)" -eq 1 ]
	[ "$(delta "$T/before" "$T/after" mkdir)" -eq 1 ]
	[ "$(delta "$T/before" "$T/after" create)" -eq 0 ]
}

@test "forgets are counted as they come, and requests refused while locked too" {
	mount_vault
	mkdir "$MNT/d"
	touch "$MNT/d/f"
	requests >"$T/before"
	sync
	echo 2 >/proc/sys/vm/drop_caches
	requests >"$T/after"
	paste "$T/before" "$T/after"
	# The kernel forgets d and d/f (one by one or in batches).
	[ $(($(delta "$T/before" "$T/after" forget) + $(delta "$T/before" "$T/after" batch_forget))) -ge 1 ]
	"$LETHEFS" lock "$MNT" >/dev/null
	requests >"$T/before"
	run stat "$MNT/d/x"
	[ "$status" -ne 0 ]
	requests >"$T/after"
	# Refused at the gate (EACCES), but sent, so counted.
	[ "$(delta "$T/before" "$T/after" lookup)" -ge 1 ]
}

@test "status --prometheus has lethefs_fuse_requests_total per operation, as status --json" {
	mount_vault
	echo x >"$MNT/f"
	requests >"$T/json"
	"$LETHEFS" status --prometheus "$MNT" >"$T/prom"
	grep -q '^# TYPE lethefs_fuse_requests_total counter$' "$T/prom"
	[ "$(grep -c '^lethefs_fuse_requests_total{' "$T/prom")" -eq "$(wc -l <"$T/json")" ]
	# create does not move between the two snapshots (no file is created).
	want=$(awk '$1 == "create" { print $2 }' "$T/json")
	[ "$want" -ge 1 ]
	grep -qx "lethefs_fuse_requests_total{mountpoint=\"$(realpath "$MNT")\",op=\"create\"} $want" "$T/prom"
}

# What a file costs to make: each request named here is one the kernel no
# longer sends (docs/PERFORMANCE.md, "Requests per file").
@test "close sends no FLUSH on a backing filesystem whose close cannot fail" {
	[ "$(stat -f -c %T "$T")" = ext2/ext3 ] || [ "$(stat -f -c %T "$T")" = tmpfs ] ||
		skip "the test directory is not on ext4 or tmpfs"
	mount_vault
	echo first >"$MNT/a"
	requests >"$T/before"
	for i in 1 2 3; do echo $i >"$MNT/f$i"; done
	cat "$MNT/f1" "$MNT/f2" >/dev/null
	requests_after_releases "$T/before" "$T/after" 5
	[ "$(delta "$T/before" "$T/after" release)" -eq 5 ]
	[ "$(delta "$T/before" "$T/after" flush)" -eq 0 ]
}

@test "without FLUSH, close still reports a write the disk had no space for" {
	mkdir -p "$T/small"
	mount -t tmpfs -o size=4m tmpfs "$T/small"
	VAULT=$T/small/vault
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$VAULT" >/dev/null
	mount_vault
	echo first >"$MNT/a" # the kernel's first (and last) FLUSH
	# 6 MB through the writeback cache onto a 4 MB disk, closed without
	# fsync: the kernel writes the pages back at close, and close fails.
	run python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"x" * 6000000)
try:
    os.close(fd)
except OSError as e:
    print("close:", e.strerror); sys.exit(3)
print("close succeeded"); sys.exit(0)' "$MNT/big"
	echo "$output"
	unmount_vault
	umount "$T/small" || umount -l "$T/small"
	[ "$status" -eq 3 ]
	[[ "$output" == *"No space left on device"* ]]
}
