#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Random 4 KiB reads (fio's randread pattern: POSIX_FADV_RANDOM, one pread
# per block). With -o random_ra_kb=N (off by default), a small read whose
# ciphertext is not in the backing page cache has the kernel read the
# aligned N KiB around it (fs/directread.h, docs/PERFORMANCE.md "Random 4
# KiB reads"). What
# the read-ahead brings in is ciphertext only: every block is still opened
# and authenticated when a read asks for it, so a flipped byte in a block
# read that way gives EIO, and its neighbours still read.

load helpers

BLK=4136 # 4096 + 24-byte nonce + 16-byte tag (xchacha20poly1305)

setup() { setup_vault; }
teardown() { teardown_vault; }

# Reads 4 KiB blocks $2... of mount file $1 as fio does (FADV_RANDOM, one
# pread each) and prints, per block, "ok" if it equals the same block of
# $T/data, or the errno's name.
rand_read() {
	python3 - "$MNT/$1" "$T/data" "${@:2}" <<'PY'
import errno, os, sys
path, ref, blocks = sys.argv[1], sys.argv[2], [int(b) for b in sys.argv[3:]]
data = open(ref, "rb").read()
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
for b in blocks:
    try:
        got = os.pread(fd, 4096, b * 4096)
        print("ok" if got == data[b * 4096:(b + 1) * 4096] else "differs")
    except OSError as e:
        print(errno.errorcode[e.errno])
os.close(fd)
PY
}

make_file() { # 4 MiB of random data as $MNT/f; sets B, its backing file
	head -c $((4 << 20)) /dev/urandom >"$T/data"
	mount_vault "$@"
	cp "$T/data" "$MNT/f"
	B=$(backing_of f)
	unmount_vault
}

@test "random 4 KiB reads return the file, with and without the backing read-ahead" {
	make_file
	for opt in "" "-o random_ra_kb=64" "-o random_ra_kb=8" "-o random_ra_kb=1024"; do
		evict "$B" 2
		# shellcheck disable=SC2086
		mount_vault $opt
		run rand_read f 513 7 1023 0 200 201 199 640 1000 3
		[ "$status" -eq 0 ]
		[ "$(echo "$output" | sort -u)" = ok ]
		cmp "$T/data" "$MNT/f"
		unmount_vault
	done
}

@test "with random_ra_kb=64 one cold 4 KiB read brings in the aligned 64 KiB of ciphertext around it, by default not" {
	command -v fincore >/dev/null || skip "no fincore (util-linux)"
	# The daemon asks cachestat(2) (Linux 6.5) whether a read's pages are
	# cached; without it there is no read-ahead.
	python3 -c 'import os, sys; sys.exit(tuple(map(int, os.uname().release.split(".")[:2])) < (6, 5))' ||
		skip "no cachestat(2) before Linux 6.5"
	make_file
	# Another lane's drop_caches can empty the cache between the read and
	# the count: three tries.
	local pages=0
	for _ in 1 2 3; do
		evict "$B" 2
		mount_vault -o random_ra_kb=64
		[ "$(rand_read f 500)" = ok ]
		pages=$(cached_pages "$B")
		unmount_vault
		echo "# backing pages cached after one 4 KiB read: $pages"
		[ "$pages" -ge 16 ] && break
	done
	[ "$pages" -ge 16 ]
	[ "$pages" -le 40 ] # the header's page and the chunk (16 or 17 pages), not the file
	evict "$B" 2
	mount_vault
	[ "$(rand_read f 500)" = ok ]
	pages=$(cached_pages "$B")
	echo "# by default: $pages"
	[ "$pages" -le 8 ]
}

@test "a flipped byte in a block read by a random 4 KiB read gives EIO; its read-ahead neighbours still read" {
	make_file
	HDR=$(hdr_len)
	# Block 500's ciphertext: one byte in its middle.
	flip_byte "$B" $((HDR + 500 * BLK + 2000))
	evict "$B" 2
	mount_logged -o random_ra_kb=64
	# 499 and 501 share block 500's 64 KiB chunk (read ahead by the first
	# read), 500 is read twice: EIO both times, never cached as good.
	run rand_read f 501 500 499 500
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = ok ]
	[ "${lines[1]}" = EIO ]
	[ "${lines[2]}" = ok ]
	[ "${lines[3]}" = EIO ]
	grep -q "integrity check failed: block 500 of backing file $B" "$T/daemon.log"
	# Cold again, the bad block first.
	unmount_vault
	evict "$B" 2
	mount_vault -o random_ra_kb=64
	run rand_read f 500 501
	[ "${lines[0]}" = EIO ]
	[ "${lines[1]}" = ok ]
}

@test "random_ra_kb takes a power of two from 8 to 4096, or 0" {
	for bad in 3 4 100 8192 -8 x; do
		run "$LETHEFS" mount --passfile "$T/pass" -o "random_ra_kb=$bad" "$VAULT" "$MNT"
		[ "$status" -eq 2 ]
		! is_mounted "$MNT" || false
	done
}
