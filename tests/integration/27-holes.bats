#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Allocation as programs see it (issue 21): st_blocks counts what the
# writeback cache holds, SEEK_DATA/SEEK_HOLE answer from the file's real
# holes, and fallocate punch-hole and zero-range work, compared with the same
# operations in a plain directory ($REF).

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() {
	# A frozen backing filesystem is thawed whatever failed, before the
	# daemon is unmounted (its last step syncs the backing filesystem).
	if [ -n "${FROZEN:-}" ]; then fsfreeze -u "$FROZEN" 2>/dev/null || true; fi
	if [ -n "${LOOP:-}" ]; then
		unmount_vault || true
		umount "$LOOP" || umount -l "$LOOP"
	fi
	teardown_vault
}

# Prints size and st_blocks of FILE in the mount and in $REF, side by side.
blocks_of() { echo "$(stat -c '%s %b' "$MNT/$1") | $(stat -c '%s %b' "$REF/$1")"; }

# A new file's attributes may be kept by the kernel for 10 ms after its
# create (or the refresh before a write) with st_blocks counted as one
# block, never 0 (fs/ops_entry.c, lfs_attr_live): right after a write the
# mount shows at least one block, and ext4's count once that has passed.
@test "st_blocks right after a write is never 0; after 10 ms, fsync and close it equals ext4's" {
	for n in 1 4096 4097 1048576 3000000; do
		python3 - "$MNT/f$n" "$REF/f$n" "$n" <<'PY' >"$T/out"
import os, sys, time
n = int(sys.argv[3])
fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644) for p in sys.argv[1:3]]
for fd in fds: os.write(fd, b"x" * n)
now = os.stat(sys.argv[1]).st_blocks
assert now >= 1, "st_blocks 0 right after a write of %d bytes" % n
time.sleep(0.1)
print("written", [os.stat(p).st_blocks for p in sys.argv[1:3]])
for fd in fds: os.fsync(fd)
print("synced", [os.stat(p).st_blocks for p in sys.argv[1:3]])
for fd in fds: os.close(fd)
print("closed", [os.stat(p).st_blocks for p in sys.argv[1:3]])
# Growing a file that already has data: exact again once synced.
fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in sys.argv[1:3]]
print("reopened", [os.stat(p).st_blocks for p in sys.argv[1:3]])
for fd in fds: os.write(fd, b"y" * (n + 100000))
for fd in fds: os.fsync(fd)
print("appended and synced", [os.stat(p).st_blocks for p in sys.argv[1:3]])
for fd in fds: os.close(fd)
PY
		cat "$T/out"
		# Each line: the mount's value equals ext4's.
		! grep -vE '\[([0-9]+), \1\]' "$T/out" || false
	done
}

@test "tar -S of a file still being written stores its data, as on ext4" {
	for d in "$MNT" "$REF"; do
		python3 - "$d/live" "$T/$(basename "$d").tar" <<'PY'
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, os.urandom(1 << 20))
# What tar decides from: blocks 0 would mean "all hole".
blocks = int(subprocess.run(["stat", "-c", "%b", sys.argv[1]], capture_output=True,
                            text=True, check=True).stdout)
assert blocks * 512 >= 1 << 20, "st_blocks %d for a live 1 MiB file" % blocks
d, f = os.path.split(sys.argv[1])
subprocess.run(["tar", "-cSf", sys.argv[2], "-C", d, f], check=True)
os.close(fd)
PY
		mkdir -p "$T/x-$(basename "$d")"
		tar -xSf "$T/$(basename "$d").tar" -C "$T/x-$(basename "$d")"
		cmp "$d/live" "$T/x-$(basename "$d")/live"
	done
}

@test "SEEK_DATA/SEEK_HOLE: dense files have none, sparse files report their holes" {
	python3 - "$MNT" "$REF" <<'PY'
import os, sys
M = 1 << 20
def build(d):
    with open(d + "/dense", "wb") as f: f.write(os.urandom(3 * M + 5))
    fd = os.open(d + "/sparse", os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"a" * M, 0)          # data
    os.pwrite(fd, b"b" * M, 40 * M)     # after a 39 MiB hole
    os.pwrite(fd, b"c" * 10, 100 * M)   # after another
    os.close(fd)
def segments(p):
    """(start, end, kind) runs from SEEK_DATA/SEEK_HOLE."""
    fd = os.open(p, os.O_RDONLY); size = os.fstat(fd).st_size; out = []; pos = 0
    while pos < size:
        data = os.lseek(fd, pos, os.SEEK_DATA)
        if data > pos: out.append((pos, data, "hole"))
        hole = os.lseek(fd, data, os.SEEK_HOLE)
        out.append((data, hole, "data")); pos = hole
    for w in (os.SEEK_DATA, os.SEEK_HOLE):
        try: os.lseek(fd, size, w); out.append("no ENXIO")
        except OSError as e: assert e.errno == 6
    os.close(fd); return out
for d in sys.argv[1:]: build(d)
m, r = segments(sys.argv[1] + "/dense"), segments(sys.argv[2] + "/dense")
print("dense", m, r); assert m == r == [(0, 3 * M + 5, "data")]
m, r = segments(sys.argv[1] + "/sparse"), segments(sys.argv[2] + "/sparse")
print("sparse mount", m); print("sparse ext4 ", r)
content = open(sys.argv[2] + "/sparse", "rb").read()
assert open(sys.argv[1] + "/sparse", "rb").read() == content
# Sound: every hole reads as zeros. Useful: the same two holes as ext4,
# each at most a block or two shorter (a lethefs hole never holds the
# block before the next data, which is stored sealed).
holes = [s for s in m if s[2] == "hole"]
assert all(content[a:b].count(0) == b - a for a, b, _ in holes)
ref_holes = [s for s in r if s[2] == "hole"]
assert len(holes) == len(ref_holes) == 2, (holes, ref_holes)
for (a, b, _), (c, d, _) in zip(holes, ref_holes):
    assert c <= a and b <= d and (d - c) - (b - a) <= 8192, (a, b, c, d)
PY
}

@test "tar -S of a 1 GiB sparse file takes no time and stores no zeros" {
	truncate -s 1G "$MNT/big"
	echo tail >>"$MNT/big"
	start=$(date +%s%N)
	tar -cSf "$T/big.tar" -C "$MNT" big
	ms=$((($(date +%s%N) - start) / 1000000))
	echo "tar -S took $ms ms, archive $(stat -c %s "$T/big.tar") bytes"
	[ "$ms" -lt 3000 ]
	[ "$(stat -c %s "$T/big.tar")" -lt 100000 ]
	blocks=$(stat -c %b "$MNT/big")
	echo "st_blocks $blocks"
	[ "$blocks" -gt 0 ] && [ "$blocks" -le 16 ]
}

@test "fallocate punch-hole and zero-range give ext4's contents and sizes" {
	head -c 5000000 /dev/urandom >"$T/data"
	cases=("-p -o 100000 -l 3000000" "-p -o 0 -l 4096" "-p -o 4095 -l 2" "-p -o 4000000 -l 2000000"
		"-z -o 5000 -l 20000" "-z -o 4990000 -l 50000" "-z -n -o 6000000 -l 5000"
		"-z -o 12288 -l 1048576" "-p -o 6000000 -l 100")
	for c in "${cases[@]}"; do
		for d in "$MNT" "$REF"; do
			cp "$T/data" "$d/f"
			# shellcheck disable=SC2086
			fallocate $c "$d/f"
		done
		echo "$c: $(stat -c %s "$MNT/f") $(stat -c %s "$REF/f")"
		cmp "$MNT/f" "$REF/f"
		[ "$(stat -c %s "$MNT/f")" = "$(stat -c %s "$REF/f")" ]
	done
	# A punched megabyte frees its blocks, and stays punched across a
	# remount, with fsck clean.
	cp "$T/data" "$MNT/p"
	cp "$T/data" "$REF/p"
	sync
	before=$(stat -c %b "$MNT/p")
	fallocate -p -o 1048576 -l 2097152 "$MNT/p"
	fallocate -p -o 1048576 -l 2097152 "$REF/p"
	after=$(stat -c %b "$MNT/p")
	echo "st_blocks $before -> $after (ext4: $(stat -c %b "$REF/p"))"
	[ $((before - after)) -ge 4000 ]
	unmount_vault
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	mount_vault
	cmp "$MNT/p" "$REF/p"
	[ "$(stat -c %b "$MNT/p")" = "$after" ]
}

@test "punch-hole sets the authenticated SPARSE flag; the last block is never a hole" {
	head -c 1000000 /dev/urandom >"$MNT/f"
	sync
	b=$(backing_of f)
	# Header byte 6: flags, bit 0 SPARSE (FORMAT.md 6.1).
	[ "$(od -An -tu1 -j6 -N1 "$b" | tr -d ' ')" = 0 ]
	fallocate -p -o 0 -l 1000000 "$MNT/f"
	[ "$(od -An -tu1 -j6 -N1 "$b" | tr -d ' ')" = 1 ]
	[ "$(tr -d '\0' <"$MNT/f" | wc -c)" = 0 ]
	# The last block is stored sealed: zeroing it in the backing store is
	# tampering, detected even in a sparse file.
	unmount_vault
	size=$(stat -c %s "$b")
	dd if=/dev/zero of="$b" bs=1 seek=$((size - 100)) count=100 conv=notrunc status=none
	mount_vault
	run cat "$MNT/f"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
}

# The flush of the kernel's pages that a stat of a file being written asks
# for (fs/flush.c) runs on one of two persistent threads and is waited for
# at most 2 s. The backing filesystem (a loop-mounted ext4 of its own) is
# frozen before the file's first write, so the write the kernel sends for
# it blocks in the daemon, and the flush with it: a stat must still answer,
# after the 2 s and not much later; a second one takes the other thread
# the same way; a third, with both threads held, answers at once. Once
# thawed, the held threads come back and a stat flushes again. (Frozen and
# thawed by ioctl from the same process: while frozen, any close of a
# descriptor of the file, a forked child's included, waits for the write.)
@test "a stat whose flush cannot finish answers after 2 s; flushes work again afterwards" {
	unmount_vault
	truncate -s 256M "$T/ext4.img"
	mkfs.ext4 -q -F "$T/ext4.img"
	mkdir -p "$T/e"
	mount -o loop "$T/ext4.img" "$T/e"
	LOOP=$T/e
	VAULT=$T/e/vault
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$VAULT" >/dev/null
	mount_vault
	FROZEN=$T/e
	python3 - "$MNT" "$FROZEN" <<'PY'
import fcntl, os, sys, threading, time
FIFREEZE, FITHAW = 0xC0045877, 0xC0045878  # linux/fs.h
mnt, backing = sys.argv[1:3]
def timed_stat(p):
    t0 = time.monotonic()
    st = os.stat(p)
    return round(time.monotonic() - t0, 3), st.st_blocks
bfd = os.open(backing, os.O_RDONLY | os.O_DIRECTORY)
fd = os.open(mnt + "/live", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
got = []
def frozen_part():
    os.write(fd, b"x" * 4096)
    time.sleep(0.1)  # past the 10 ms the kernel may keep the create's reply
    got.extend(timed_stat(mnt + "/live") for _ in range(3))
# On a thread: a stat that never gave up must not keep the disk frozen.
stats = threading.Thread(target=frozen_part)
fcntl.ioctl(bfd, FIFREEZE, 0)
try:
    stats.start()
    stats.join(45)
finally:
    fcntl.ioctl(bfd, FITHAW, 0)
print("frozen: (seconds, st_blocks) of three stats", got)
assert not stats.is_alive(), "a stat did not answer while the backing was frozen"
stats.join()
first, second, third = got
assert 1.9 <= first[0] < 15, first
assert 1.9 <= second[0] < 15, second
assert third[0] < 1.5, third
os.close(fd)
# Thawed: the held threads return, and a new file's stat flushes again.
deadline, tries = time.monotonic() + 30, 0
while True:
    fd = os.open(mnt + "/after", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"y" * (1 << 20))
    time.sleep(0.1)
    blocks = os.stat(mnt + "/after").st_blocks
    os.close(fd)
    tries += 1
    if blocks * 512 >= 1 << 20 or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print("thawed: st_blocks of a live 1 MiB file", blocks, "at try", tries)
assert blocks * 512 >= 1 << 20, blocks
with open(mnt + "/live", "rb") as f:
    assert f.read() == b"x" * 4096
PY
	FROZEN=
	unmount_vault
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
}
