#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Large reads of sealed blocks go past the backing page cache (O_DIRECT,
# fs/directread.h; docs/PERFORMANCE.md "Sequential I/O"): a cold sequential
# read leaves the backing file out of the cache, returns what was written
# (also while the backing file still has dirty pages), and a corrupt block
# inside such a read fails it with EIO, as in the buffered path.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

# A cold read of a file of $1 bytes (its last request shorter, ending in a
# partial block at the end of the backing file) returns it and leaves the
# backing file (nearly) out of the page cache.
cold_read_case() {
	command -v fincore >/dev/null || skip "no fincore (util-linux)"
	head -c "$1" /dev/urandom >"$T/data"
	mount_vault
	cp "$T/data" "$MNT/big"
	B=$(backing_of big)
	unmount_vault
	evict "$B"
	mount_vault
	# 1 MiB requests: the kernel's readahead on this mount.
	dd if="$MNT/big" bs=1M of="$T/back" status=none
	cmp "$T/data" "$T/back"
	pages=$(cached_pages "$B")
	echo "# backing file pages cached after the read: $pages of $((($(stat -c %s "$B") + 4095) / 4096))"
	# The header and small requests at most; a buffered read caches all
	# (4,137 for 16 MiB).
	[ "$pages" -lt 512 ]
}

reinit() {
	rm -rf "$VAULT"
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$@" \
		"$VAULT" >/dev/null 2>&1
}

@test "a cold 16 MiB read returns the file and leaves the backing file out of the cache" {
	cold_read_case $((16 << 20))
}

@test "the same with a partial last block, in format 1 (48-byte header) and with aes256gcm" {
	cold_read_case $(((16 << 20) - 300001))
	unmount_vault
	reinit --format 1
	cold_read_case $(((16 << 20) - 300001))
	if grep -qw aes /proc/cpuinfo; then
		unmount_vault
		reinit --cipher aes256gcm
		cold_read_case $(((16 << 20) - 300001))
	fi
}

@test "large reads see what is still dirty in the backing file's cache" {
	for opt in "" "-o no_writeback_cache"; do
		# shellcheck disable=SC2086
		mount_vault $opt
		head -c $((8 << 20)) /dev/urandom >"$T/data"
		# No sync: the daemon's writes are still dirty pages of the
		# backing file when the direct reads come.
		cp "$T/data" "$MNT/f"
		# iflag=direct: each 1 MiB read goes to the daemon as one request.
		dd if="$MNT/f" iflag=direct bs=1M of="$T/back" status=none
		cmp "$T/data" "$T/back"
		# Rewrite the middle in place, then read it back at once.
		head -c $((3 << 20)) /dev/urandom >"$T/mid"
		dd if="$T/mid" of="$MNT/f" bs=1M seek=2 conv=notrunc status=none
		dd if="$T/mid" of="$T/data" bs=1M seek=2 conv=notrunc status=none
		dd if="$MNT/f" iflag=direct bs=1M of="$T/back" status=none
		cmp "$T/data" "$T/back"
		rm "$MNT/f"
		unmount_vault
	done
}

@test "a corrupt block inside a 1 MiB direct read fails the read with EIO and a log line" {
	head -c $((4 << 20)) /dev/urandom >"$T/data"
	mount_vault
	cp "$T/data" "$MNT/big"
	B=$(backing_of big)
	unmount_vault
	# Block 300: inside the second 1 MiB request (blocks 256-511).
	blk=4136
	flip_byte "$B" $(($(hdr_len) + 300 * blk + 1000))
	evict "$B"
	mount_logged
	run dd if="$MNT/big" iflag=direct bs=1M of="$T/back"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	grep -q "integrity check failed: block 300 of backing file $B" "$T/daemon.log"
	# What came before the bad request is intact; nothing of it after.
	[ "$(stat -c %s "$T/back")" -eq $((1 << 20)) ]
	cmp "$T/back" <(head -c $((1 << 20)) "$T/data")
}
