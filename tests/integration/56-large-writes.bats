#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Large writes (docs/DESIGN.md, "Large writes use every core and start the
# disk early"): the whole blocks of a request of 32 blocks or more are
# sealed on several threads (fs/fileio_seal.c), and the backing file's
# writeback is started behind sequential writes (fs/writebehind.c). What
# such writes leave must read back as the same writes leave it on the
# directory's own filesystem, after a remount (nothing cached); and the
# write-behind must run on an exclusive mount, behind the writer only.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

# The same writes into directory $1: unaligned large writes, a gap of
# sealed zeros, a hole, a rewrite in place across the end, and two writers
# at once into one file.
write_all() {
	local d=$1
	dd if="$T/src" of="$d/a" bs=1M count=20 oflag=seek_bytes seek=1000 status=none
	dd if="$T/src" of="$d/a" bs=1M skip=3 count=3 oflag=seek_bytes seek=5000001 \
		conv=notrunc status=none
	dd if="$T/src" of="$d/a" bs=1M skip=7 count=2 oflag=seek_bytes seek=$((21 << 20)) \
		conv=notrunc status=none
	dd if="$T/src" of="$d/a" bs=1M skip=9 count=1 oflag=seek_bytes seek=$((40 << 20)) \
		conv=notrunc status=none
	dd if="$T/src" of="$d/a" bs=1M skip=11 count=4 oflag=seek_bytes seek=$((39 << 20)) \
		conv=notrunc status=none
	# Both writers without O_TRUNC, on a file made first: a truncating
	# open by one could land after the other's first writes and cut them
	# (seen once: the mount and ext4 raced differently, byte 16 MiB + 1).
	: >"$d/b"
	dd if="$T/src" of="$d/b" bs=1M count=16 conv=notrunc status=none &
	dd if="$T/src" of="$d/b" bs=1M skip=16 seek=16 count=16 conv=notrunc status=none &
	wait
}

@test "large unaligned writes, gaps, holes and two writers at once read back as on the directory's filesystem" {
	head -c $((32 << 20)) /dev/urandom >"$T/src"
	mount_vault
	write_all "$MNT"
	write_all "$REF"
	unmount_vault
	mount_vault
	for f in a b; do
		[ "$(stat -c %s "$MNT/$f")" = "$(stat -c %s "$REF/$f")" ]
		cmp "$MNT/$f" "$REF/$f"
	done
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
}

# sync_file_range calls of the daemon while $1 runs (strace).
count_writebehind() {
	command -v strace >/dev/null || skip "no strace"
	local pid
	pid=$("$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	strace -f -qq -e trace=sync_file_range -o "$T/strace" -p "$pid" &
	local sp=$!
	sleep 1
	"$@"
	sleep 0.5
	kill -INT "$sp"
	wait "$sp" || true
	grep -c 'sync_file_range(' "$T/strace" || true
}

@test "a sequential write of 1 MiB requests starts the backing writeback behind the writer" {
	mount_vault
	n=$(count_writebehind dd if=/dev/zero of="$MNT/seq" bs=1M count=48 status=none)
	echo "# sync_file_range calls: $n"
	[ "$n" -ge 1 ]
	# Never the last 4 MiB before the write that asked (the offset and
	# length it passed end at least that far before the file's end).
	size=$(stat -c %s "$(backing_of seq)")
	while read -r from len; do
		[ $((from + len)) -le $((size - (4 << 20))) ]
	done < <(sed -n 's/.*sync_file_range([0-9]*, \([0-9]*\), \([0-9]*\),.*/\1 \2/p' "$T/strace")
	# Random 4 KiB writes over 64 MiB (requests of a page or a few) never
	# start it.
	truncate -s 64M "$MNT/rand"
	n=$(count_writebehind python3 - "$MNT/rand" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for _ in range(3000):
    os.pwrite(fd, os.urandom(4096), random.randrange(16384) * 4096)
os.fsync(fd)
os.close(fd)
PY
)
	echo "# sync_file_range calls for random writes: $n"
	[ "$n" -eq 0 ]
}
