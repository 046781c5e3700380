#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Attacks on the write-behind of shared mounts (fs/sharedwb.h, docs/SHARED.md
# "Writes are acknowledged before they reach the engine"), beside
# 59-shared-writebehind.bats: ordering against everything else on one host,
# and errors that must reach close(2) or fsync(2) of the writer (and only
# of writers). A vault in a local directory (or on a small tmpfs) mounted
# with -o shared. (Resources, crashes, a lock, a shred and two hosts:
# 59-shared-writebehind-attack2.bats; helpers: wbattack.bash.)

load helpers
load hosts
load wbattack

@test "wb attack: an O_APPEND writer while other processes stat and list the file loses no append" {
	# A LOOKUP or READDIRPLUS answered from the backing size while writes
	# are queued gives the kernel a smaller size than it has; it takes it
	# (no WRITE was answered since the request was sent), and the next
	# O_APPEND write lands at that size, over queued data.
	mount_vault -o shared
	python3 - "$MNT" <<'PY'
import os, sys, time
d = sys.argv[1]
t0 = time.time()
rnd = 0
while time.time() - t0 < 8:
    rnd += 1
    path = "%s/log%d" % (d, rnd)
    pids = []
    for _ in range(3):
        p = os.fork()
        if p == 0:
            while not os.path.exists(path + ".done"):
                try:
                    os.stat(path)
                    os.listdir(d)
                except FileNotFoundError:
                    pass
            os._exit(0)
        pids.append(p)
    n, ch = 48, 1 << 20
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for i in range(n):
        os.write(fd, (b"%08d" % i) * (ch // 8))
    os.close(fd)
    open(path + ".done", "w").close()
    for p in pids:
        os.waitpid(p, 0)
    size = os.stat(path).st_size
    with open(path, "rb") as f:
        seen = set()
        for i in range(n):
            f.seek(i * ch)
            seen.add(f.read(8))
    assert size == n * ch and len(seen) == n, \
        "round %d: size %d (want %d), %d of %d appends found" % (rnd, size, n * ch, len(seen), n)
    os.unlink(path)
    os.unlink(path + ".done")
print("rounds", rnd)
PY
}

@test "wb attack: writes that all fit the queue on a full disk: close(2), fsync(2), dd conv=fsync fail, nothing else lost" {
	small_vault 16
	mount_vault -o shared
	head -c 1000000 /dev/urandom >"$T/keep"
	cp "$T/keep" "$MNT/keep"
	sync "$MNT/keep"
	fill_to 1024
	# 3 MiB: every write(2) is queued and acknowledged before the worker
	# meets the full disk; close(2) is the only one left to tell.
	run err_writer "$MNT/a" 3072 close
	echo "$output"
	[[ "$output" =~ ^(write\ [0-9]+\ ENOSPC\ )?close\ ENOSPC$ ]]
	run err_writer "$MNT/b" 3072 fsync
	echo "$output"
	[[ "$output" =~ ^(write\ [0-9]+\ ENOSPC\ )?fsync\ ENOSPC\ fsync\ ok\ close\ ok$ ]]
	run dd if=/dev/zero of="$MNT/c" bs=64k count=48 conv=fsync status=none
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"No space left"* ]]
	rm -f "$MNT/a" "$MNT/b" "$MNT/c" "$MNT/filler"
	cmp "$T/keep" "$MNT/keep"
	run err_writer "$MNT/d" 3072 fsync
	echo "$output"
	[ "$output" = "fsync ok fsync ok close ok" ]
	unmount_vault
	fsck_clean
}

@test "wb attack: a deferred error no descriptor has reported reaches the fsync(2) of one opened after it, once" {
	# PostgreSQL's backends write(2) a relation and never fsync it; its
	# checkpointer opens the file later and fsyncs before it drops the WAL
	# that could redo the writes. Linux reports a writeback error nobody
	# has seen to such a descriptor (and exclusive mounts, whose kernel
	# writeback cache does it, too): here the checkpointer's fsync(2)
	# returned 0 and the writes were lost unreported.
	small_vault 16
	mount_vault -o shared
	fill_to 1024
	run python3 - "$MNT/rel" <<'PY'
import errno, os, sys
p = sys.argv[1]
def call(name, f, *a):
    try:
        f(*a)
        return name + " ok"
    except OSError as e:
        return name + " " + errno.errorcode[e.errno]
out = []
w = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
for i in range(48):  # 3 MiB on a disk with 1 MiB left, all queued
    try:
        os.write(w, b"x" * 65536)
    except OSError as e:  # (or the worker failed first: still unreported)
        out.append("write " + errno.errorcode[e.errno])
        break
os.stat(p)  # waits for the queue: the deferred write has failed now
ckpt = os.open(p, os.O_RDWR)
out += [call("ckpt-fsync", os.fsync, ckpt), call("ckpt-fsync", os.fsync, ckpt)]
later = os.open(p, os.O_RDONLY)  # after the report: nothing to tell
out += [call("later-fsync", os.fsync, later), call("writer-fsync", os.fsync, w)]
out += [call("close", os.close, fd) for fd in (later, ckpt, w)]
print(" ".join(out))
PY
	echo "$output"
	[[ "$output" =~ ^(write\ ENOSPC\ )?ckpt-fsync\ ENOSPC\ ckpt-fsync\ ok\ later-fsync\ ok\ writer-fsync\ ENOSPC\ close\ ok\ close\ ok\ close\ ok$ ]]
	rm -f "$MNT/rel" "$MNT/filler"
	unmount_vault
	fsck_clean
}

@test "wb attack: a writer's deferred error reaches neither a reader's close(2) nor another user's" {
	small_vault 16
	mount_vault -o shared,allow_other
	id "$U" >/dev/null 2>&1 || useradd -M -s /bin/sh "$U"
	chmod 755 "$T" "$MNT"
	mkdir -m 1777 "$T/u"
	head -c 300000 /dev/urandom >"$MNT/f"
	chmod 644 "$MNT/f"
	fill_to 1024
	# Readers (root's and another user's) hold the file open while root's
	# queued writes to it fail; then they read it and close.
	python3 - "$MNT/f" "$T/ready" "$T/go" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
os.read(fd, 4096)
os.close(fd)  # raises (the test fails) if the writer's error comes here
print("root reader: close ok")
PY
	reader=$!
	runuser -u "$U" -- python3 - "$MNT/f" "$T/u/ready" "$T/go" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
os.read(fd, 4096)
os.close(fd)
print("user reader: close ok")
PY
	ureader=$!
	for _ in $(seq 100); do
		[ -f "$T/ready" ] && [ -f "$T/u/ready" ] && break
		sleep 0.05
	done
	run python3 - "$MNT/f" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    for i in range(48):
        os.pwrite(fd, os.urandom(64 << 10), 300000 + i * (64 << 10))
    os.close(fd)
    print("writer: close ok")
except OSError as e:
    print("writer:", errno.errorcode[e.errno])
PY
	echo "$output"
	[[ "$output" == "writer: ENOSPC" ]]
	touch "$T/go"
	wait "$reader"
	wait "$ureader"
}

@test "wb attack: right after queued writes, stat, reads, mmap, truncate, fallocate, copy_file_range, SEEK_DATA, rename, link, chmod, xattrs and locks see them" {
	mount_vault -o shared
	python3 - "$MNT" <<'PY'
import fcntl, mmap, os, stat, sys
d = sys.argv[1]
p = d + "/f"
data = os.urandom(6 << 20)
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
def put():
    for off in range(0, len(data), 1 << 20):
        os.pwrite(fd, data[off:off + (1 << 20)], off)
put()
assert os.fstat(fd).st_size == len(data), "fstat"
assert os.stat(p).st_size == len(data), "stat"
with open(p, "rb") as r:
    assert r.read() == data, "read by another descriptor"
m = mmap.mmap(fd, len(data), prot=mmap.PROT_READ)
assert m[:] == data, "mmap"
m.close()
# ftruncate and truncate while queued: nothing queued lands after them.
put()
os.ftruncate(fd, 1 << 20)
assert os.stat(p).st_size == 1 << 20, "ftruncate"
with open(p, "rb") as r:
    assert r.read() == data[:1 << 20], "content after ftruncate"
put()
os.truncate(p, 3 << 20)
with open(p, "rb") as r:
    assert r.read() == data[:3 << 20], "content after truncate"
# fallocate past the end, and a write after a hole for SEEK_DATA/HOLE.
put()
os.posix_fallocate(fd, 0, 8 << 20)
assert os.stat(p).st_size == 8 << 20, "fallocate size"
with open(p, "rb") as r:
    assert r.read(len(data)) == data, "content after fallocate"
q = d + "/holey"
hfd = os.open(q, os.O_RDWR | os.O_CREAT, 0o600)
os.pwrite(hfd, data[:1 << 20], 16 << 20)
ds = os.lseek(hfd, 0, os.SEEK_DATA)
assert ds >= (12 << 20) and ds <= (16 << 20), "SEEK_DATA %d" % ds
hs = os.lseek(hfd, ds, os.SEEK_HOLE)
assert hs == 17 << 20, "SEEK_HOLE %d" % hs
assert os.lseek(hfd, 0, os.SEEK_END) == 17 << 20, "SEEK_END"
os.close(hfd)
# copy_file_range from a file whose writes are queued.
put()
c = os.open(d + "/copy", os.O_RDWR | os.O_CREAT, 0o600)
n, off = 0, 0
while off < len(data):
    n = os.copy_file_range(fd, c, len(data) - off, off, off)
    assert n > 0
    off += n
os.close(c)
with open(d + "/copy", "rb") as r:
    assert r.read() == data, "copy_file_range"
# rename, link, chmod, xattrs while queued; then read by the new names.
os.ftruncate(fd, 0)
put()
os.rename(p, d + "/g")
put()
os.link(d + "/g", d + "/h")
put()
os.chmod(d + "/g", 0o640)
os.setxattr(d + "/g", "user.k", b"v")
for name in ("g", "h"):
    with open(d + "/" + name, "rb") as r:
        assert r.read() == data, "read by " + name
assert stat.S_IMODE(os.stat(d + "/h").st_mode) == 0o640, "chmod"
assert os.getxattr(d + "/h", "user.k") == b"v", "xattr"
# times set right after writes (cp -p, tar) stay: no queued write lands
# after them.
put()
os.utime(d + "/g", (1000000000, 1000000000))
assert os.stat(d + "/h").st_mtime == 1000000000, "mtime after utime"
# POSIX and OFD locks right after writes; then an unlink while queued,
# the open descriptor still reads everything.
put()
fcntl.lockf(fd, fcntl.LOCK_EX)
with open(d + "/g", "rb") as r:
    assert r.read() == data, "after a POSIX lock"
fcntl.lockf(fd, fcntl.LOCK_UN)
put()
ofd = getattr(fcntl, "F_OFD_SETLK", 37)
import struct
fcntl.fcntl(fd, ofd, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
fcntl.fcntl(fd, ofd, struct.pack("hhqqi", fcntl.F_UNLCK, 0, 0, 0, 0))
put()
os.unlink(d + "/g")
os.unlink(d + "/h")
assert os.pread(fd, len(data), 0) == data, "after unlink"
os.close(fd)
print("ok")
PY
	unmount_vault
	fsck_clean
}

@test "wb attack: two processes append with O_APPEND to one file, nothing lost" {
	mount_vault -o shared
	python3 - "$MNT/app" <<'PY'
import os, sys
path = sys.argv[1]
open(path, "w").close()
pids = []
for w in range(2):
    p = os.fork()
    if p == 0:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        for i in range(200):
            os.write(fd, (b"%d%07d" % (w, i)) * 8192)
        os.close(fd)
        os._exit(0)
    pids.append(p)
for p in pids:
    _, st = os.waitpid(p, 0)
    assert st == 0
data = open(path, "rb").read()
assert len(data) == 400 * 65536, "size %d" % len(data)
seen = set(data[o:o + 8] for o in range(0, len(data), 65536))
assert len(seen) == 400, "%d distinct" % len(seen)
PY
}

@test "wb attack: writes through a shared mmap, msync, munmap: read back by another descriptor and after a remount" {
	mount_vault -o shared
	python3 - "$MNT/m" "$T/mref" <<'PY'
import mmap, os, sys
data = os.urandom(6 << 20)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(fd, len(data))
m = mmap.mmap(fd, len(data))
m[:] = data
m.flush()
with open(sys.argv[1], "rb") as r:
    assert r.read() == data, "after msync"
m[4096:8192] = b"Z" * 4096
m.close()
os.close(fd)
data = data[:4096] + b"Z" * 4096 + data[8192:]
with open(sys.argv[1], "rb") as r:
    assert r.read() == data, "after munmap and close"
open(sys.argv[2], "wb").write(data)
PY
	unmount_vault
	mount_vault -o shared
	cmp "$T/mref" "$MNT/m"
}

@test "wb attack: O_CREAT|O_TRUNC by a name the kernel has not cached, while the file's writes are queued: the file ends empty" {
	# A name the kernel has no dentry of: LOOKUP (which now waits for the
	# file's queue), then OPEN with O_TRUNC (which waits too); the writes
	# queued before must not land after that truncation. (A regression
	# test: it passed before the LOOKUP fix as well.)
	mount_vault -o shared
	python3 - "$MNT" <<'PY'
import os, sys
d = sys.argv[1]
fd = os.open(d + "/a", os.O_WRONLY | os.O_CREAT, 0o600)
os.link(d + "/a", d + "/b")
bad = 0
for rnd in range(6):
    os.ftruncate(fd, 0)
    for i in range(6):
        os.pwrite(fd, os.urandom(1 << 20), i << 20)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")  # "b" is unused: its dentry goes ("a" is open)
    t = os.open(d + "/b", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(t)
    size = os.stat(d + "/a").st_size
    if size != 0:
        bad += 1
        print("round %d: size %d after O_TRUNC" % (rnd, size))
os.close(fd)
assert bad == 0
PY
}

@test "wb attack: writes refused for a deferred error in a staging directory with a quota are refunded once, not twice" {
	small_vault 16
	mount_vault -o shared
	"$LETHEFS" stage create --ttl 1h --quota 12M "$MNT/q"
	head -c 1000000 /dev/urandom >"$MNT/q/keep"
	fill_to 1024
	# Deferred ENOSPC; the write(2)s after it fail with it, each refunding
	# what it was charged (and nothing more).
	run err_writer "$MNT/q/a" 3072 close
	echo "$output"
	[[ "$output" =~ ^write\ [0-9]+\ ENOSPC\ close ]]
	rm -f "$MNT/filler"
	used=$(getfattr --only-values -n user.lethefs.used "$MNT/q")
	sizes=$(($(stat -c %s "$MNT/q/keep") + $(stat -c %s "$MNT/q/a")))
	echo "used $used, sizes $sizes"
	[ "$used" -eq "$sizes" ]
}
