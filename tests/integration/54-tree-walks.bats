#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Tree walks (docs/PERFORMANCE.md, "Tree work at many files").
# READDIRPLUS replies (fs/ops_dir.c): the entries of a reply are looked up
# by a pool of helper threads and the handler's thread at once, then added
# in listing order (docs/PERFORMANCE.md, "Tree work at many files"). Each
# name must come once with its own attributes, a listing must not change
# order or lose entries across replies, and what the backing-store writer
# plants (docs/THREAT-MODEL.md) must fail as before: EIO, never a hang.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

# The fuse_requests member of the mount's status, as "op N" lines.
requests() {
	"$LETHEFS" status --json "$MNT" |
		python3 -c 'import json,sys; [print(k, v) for k, v in json.load(sys.stdin)["fuse_requests"].items()]'
}
count() { awk -v o="$2" '$1 == o { print $2 }' "$1"; }

@test "a listing of 1,500 files names each once with its own size and mode, in a stable order" {
	mount_vault
	mkdir "$MNT/big"
	# Distinct sizes and two modes: an attribute paired with the wrong
	# name would show.
	python3 - "$MNT/big" <<'PY'
import os, sys
for i in range(1500):
    p = f"{sys.argv[1]}/f{i:04d}"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if i % 2 else 0o644)
    os.write(fd, b"x" * i)
    os.close(fd)
PY
	# A fresh daemon and kernel cache: every attribute comes from the
	# listing's lookups, none from a cache.
	unmount_vault
	mount_vault
	requests >"$T/before"
	python3 - "$MNT/big" >"$T/listed" <<'PY'
import os, stat, sys
seen = {}
order = []
with os.scandir(sys.argv[1]) as it:
    for e in it:
        st = e.stat(follow_symlinks=False)
        assert e.name not in seen, f"{e.name} listed twice"
        seen[e.name] = st
        order.append(e.name)
assert len(seen) == 1500, f"{len(seen)} entries"
for name, st in seen.items():
    i = int(name[1:])
    assert stat.S_ISREG(st.st_mode), name
    assert st.st_size == i, f"{name}: size {st.st_size}"
    assert stat.S_IMODE(st.st_mode) == (0o600 if i % 2 else 0o644), f"{name}: mode {st.st_mode:o}"
print("\n".join(order))
PY
	requests >"$T/after"
	# The listing was served by READDIRPLUS with the attributes, not by a
	# LOOKUP per name (which would not exercise the batch).
	local plus lookups
	plus=$(($(count "$T/after" readdirplus) - $(count "$T/before" readdirplus)))
	lookups=$(($(count "$T/after" lookup) - $(count "$T/before" lookup)))
	echo "readdirplus $plus, lookup $lookups"
	[ "$plus" -ge 2 ]
	[ "$lookups" -lt 750 ]
	# The same order again, from the daemon's listing (the kernel keeps no
	# listing: directories are opened without cache_readdir).
	ls -f "$MNT/big" | grep -v '^\.\.\?$' >"$T/again"
	diff "$T/listed" "$T/again"
}

@test "removing and creating entries while a directory is listed loses none that stayed" {
	mount_vault
	mkdir "$MNT/d"
	for i in $(seq 1 600); do : >"$MNT/d/keep$i"; done
	for i in $(seq 1 300); do : >"$MNT/d/gone$i"; done
	unmount_vault
	mount_vault
	# Reads the listing in small steps (os.scandir asks the kernel for
	# one buffer at a time) while another process removes and creates.
	python3 - "$MNT/d" <<'PY'
import os, subprocess, sys
d = sys.argv[1]
churn = subprocess.Popen(["sh", "-c",
    f"for i in $(seq 1 300); do rm -f '{d}/gone'$i; : >'{d}/new'$i; done"])
names = [e.name for e in os.scandir(d)]
churn.wait()
keep = [n for n in names if n.startswith("keep")]
assert len(keep) == len(set(keep)) == 600, (len(keep), len(set(keep)))
PY
	[ "$(find "$MNT/d" -name 'keep*' | wc -l)" -eq 600 ]
	[ "$(find "$MNT/d" -name 'gone*' | wc -l)" -eq 0 ]
	[ "$(find "$MNT/d" -name 'new*' | wc -l)" -eq 300 ]
}

@test "attack: a FIFO planted under a file's name among many: the listing ends, the FIFO is EIO, not a hang" {
	mount_vault
	mkdir "$MNT/dir"
	for i in $(seq 1 300); do echo "data $i" >"$MNT/dir/f$i"; done
	local fifo_b dev_b
	fifo_b=$(backing_of dir/f150)
	dev_b=$(backing_of dir/f151)
	unmount_vault
	rm "$fifo_b" "$dev_b"
	# A FIFO without a writer: any open for reading without O_NONBLOCK
	# would wait for ever. A device node (/dev/null's numbers): served
	# only with -o dev, and never opened.
	mkfifo "$fifo_b"
	mknod "$dev_b" c 1 3
	mount_logged
	# ls -l and du list with READDIRPLUS: every entry is looked up on the
	# pool; the planted ones fail and are left out.
	run timeout -s KILL 30 ls -l "$MNT/dir"
	echo "$output" | tail -n 3
	[ "$status" -ne 137 ]
	[ "$(echo "$output" | grep -c ' f[0-9]*$')" -eq 298 ]
	run timeout -s KILL 30 du -s "$MNT/dir"
	[ "$status" -ne 137 ]
	run timeout -s KILL 10 stat "$MNT/dir/f150"
	echo "$output"
	[ "$status" -ne 137 ]
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	run timeout -s KILL 10 cat "$MNT/dir/f151"
	[ "$status" -ne 137 ]
	[ "$status" -ne 0 ]
	[ "$(cat "$MNT/dir/f149")" = "data 149" ]
	[ "$(cat "$MNT/dir/f152")" = "data 152" ]
	grep -q "refused: backing FIFO where only format 2 may be" "$T/daemon.log"
	grep -q "is a device node (1:3): refused" "$T/daemon.log"
	# Nothing opened the FIFO: a writer that opens it without waiting
	# finds no reader.
	run python3 -c 'import os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
    print("a reader had it open")
    sys.exit(1)
except OSError as e:
    print(e)
    sys.exit(0 if e.errno == 6 else 1)' "$fifo_b"
	echo "$output"
	[ "$status" -eq 0 ]
}

# After an unlink the kernel (writeback cache) writes back the removed
# file's times; the daemon skips rewriting a removed file's unchanged times
# (fs/ops_attr.c). What a program sees must still be what ext4 shows.
@test "times: a removed file kept open keeps its mtime; utimensat to the same times on a named file still moves its ctime" {
	mount_vault
	mkdir -p "$T/ext"
	for dir in "$MNT" "$T/ext"; do
		run python3 - "$dir" <<'PY'
import os, sys, time
d = sys.argv[1]
fd = os.open(f"{d}/open", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"data")
os.fsync(fd)
os.utime(f"{d}/open", ns=(1_000_000_000, 2_000_000_000))
before = os.fstat(fd)
time.sleep(1.2)
t_unlink = time.time()
os.unlink(f"{d}/open")
time.sleep(1.2)  # past the attribute timeout: asked again
after = os.fstat(fd)
os.close(fd)
assert after.st_mtime_ns == 2_000_000_000, after.st_mtime_ns
assert after.st_ctime >= t_unlink - 0.01, (after.st_ctime, t_unlink)
assert after.st_nlink == 0
# A named file set to the times it has: its ctime moves (utimensat(2)).
p = f"{d}/named"
open(p, "w").close()
os.utime(p, ns=(1_000_000_000, 2_000_000_000))
c1 = os.stat(p).st_ctime_ns
time.sleep(1.2)
os.utime(p, ns=(1_000_000_000, 2_000_000_000))
time.sleep(1.2)
st = os.stat(p)
assert st.st_mtime_ns == 2_000_000_000
assert st.st_ctime_ns > c1, (st.st_ctime_ns, c1)
print("ok", d)
PY
		echo "$output"
		[ "$status" -eq 0 ]
	done
}

# A name that does not decrypt among 300, each other entry with its own
# size and mode; $@: the mount's options.
tampered_name_among_many() {
	mount_vault "$@"
	mkdir "$MNT/d"
	python3 - "$MNT/d" <<'PY'
import os, sys
for i in range(300):
    fd = os.open(f"{sys.argv[1]}/n{i:03d}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if i % 3 else 0o640)
    os.write(fd, b"y" * i)
    os.close(fd)
PY
	local victim
	victim=$(backing_of d/n150)
	unmount_vault
	# One base64url character changed: same length, so the reply's room
	# was reckoned for it before its lookup found it does not decrypt.
	local dir name c r
	dir=$(dirname "$victim")
	name=$(basename "$victim")
	c=${name:7:1}
	[ "$c" = A ] && r=B || r=A
	mv "$victim" "$dir/${name:0:7}$r${name:8}"
	mount_vault "$@"
	python3 - "$MNT/d" <<'PY'
import os, stat, sys
seen = {}
with os.scandir(sys.argv[1]) as it:
    for e in it:
        assert e.name not in seen, f"{e.name} listed twice"
        seen[e.name] = e.stat(follow_symlinks=False)
assert len(seen) == 299, f"{len(seen)} entries"
assert "n150" not in seen
for name, st in seen.items():
    i = int(name[1:])
    assert st.st_size == i, f"{name}: size {st.st_size}"
    assert stat.S_IMODE(st.st_mode) == (0o600 if i % 3 else 0o640), f"{name}: mode {st.st_mode:o}"
PY
	# du, after the kernel forgot them: the same walk through READDIRPLUS.
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	[ "$(du -s --apparent-size -B1 "$MNT/d" | cut -f1)" -ge $((299 * 298 / 2)) ]
}

@test "names are decrypted by the lookups' threads: a tampered one among 300 is skipped, the rest keep their own attributes (-o iattr)" {
	tampered_name_among_many -o iattr
}

# The default (header) mode: each lookup of the batch reads and checks its
# file's header after decrypting the name, with the read-ahead thread.
@test "names are decrypted by the lookups' threads: a tampered one among 300 is skipped, the rest keep their own attributes (header mode)" {
	tampered_name_among_many
}
