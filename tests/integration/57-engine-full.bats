#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A vault on a network/FUSE engine that caches writes and meets a full
# disk only when it writes them back (NFS, GlusterFS with its write-behind
# on, ceph-fuse): a failed append must cost only its own data (FORMAT.md
# 12.3). The engine here is another lethefs mount (its writeback cache on)
# whose vault lies on a small tmpfs: lethefs info --backing calls it a
# "network/FUSE engine", and its fallocate reserves real space.

load helpers

setup() {
	setup_vault
	SMALL=$T/small OUTER=$T/outer INNER=$T/inner
	mkdir -p "$SMALL" "$OUTER" "$INNER"
	mount -t tmpfs -o size=24m tmpfs "$SMALL"
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$SMALL/ov" >/dev/null
	"$LETHEFS" mount --passfile "$T/pass" "$SMALL/ov" "$OUTER"
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$OUTER/vault" >/dev/null
	run "$LETHEFS" info --backing "$OUTER/vault"
	[[ "$output" == *"(network/FUSE engine)"* ]]
}

teardown() {
	for m in "$INNER" "$OUTER"; do
		mountpoint -q "$m" && { "$LETHEFS" umount --timeout 60s "$m" || umount -l "$m"; }
	done
	for _ in $(seq 100); do
		pgrep -f "lethefs mount .*$T/" >/dev/null || break
		sleep 0.1
	done
	mountpoint -q "$SMALL" && umount "$SMALL"
	teardown_vault
}

# Fills the engine's disk but for $1 pages.
fill_engine_but() {
	rm -f "$SMALL/filler"
	dd if=/dev/zero of="$SMALL/filler" bs=4k status=none 2>/dev/null || true
	local sz
	sz=$(stat -c %s "$SMALL/filler")
	truncate -s $((sz - $1 * 4096)) "$SMALL/filler"
}

@test "engine full at writeback: a failed append leaves the file as it was, readable and appendable" {
	"$LETHEFS" mount --passfile "$T/pass" "$OUTER/vault" "$INNER"
	head -c 50004 /dev/urandom >"$T/orig"
	for free in 0 3 13; do
		cp "$T/orig" "$INNER/f$free"
		sync "$INNER/f$free"
		fill_engine_but $free
		run python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(30):
    os.write(fd, bytes([65 + i % 26]) * 100003)
os.fsync(fd)' "$INNER/f$free"
		[ "$status" -ne 0 ] # the disk is full: the append fails
		rm -f "$SMALL/filler"
	done
	# What the files are now, not what the kernel's cache of the mount
	# kept: the same files through a new mount.
	run "$LETHEFS" umount "$INNER"
	echo "$output"
	[ "$status" -eq 0 ]
	"$LETHEFS" mount --passfile "$T/pass" "$OUTER/vault" "$INNER"
	for free in 0 3 13; do
		run cmp "$T/orig" "$INNER/f$free"
		echo "f$free: $output"
		[ "$status" -eq 0 ]
		head -c 5000 /dev/urandom >>"$INNER/f$free"
		[ "$(stat -c %s "$INNER/f$free")" -eq 55004 ]
	done
	"$LETHEFS" umount "$INNER"
	run "$LETHEFS" fsck --passfile "$T/pass" "$OUTER/vault"
	echo "$output"
	[ "$status" -eq 0 ]
}
