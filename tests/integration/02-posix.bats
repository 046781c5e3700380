#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The POSIX surface legacy software needs, each checked against the same
# operation on a plain directory ($REF).

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

# Runs the same shell snippet in the mount and in the reference dir (with
# $D set to each) and compares output and exit status.
same() {
	local out_m out_r rc_m rc_r
	out_m=$(D="$MNT" bash -c "$1" 2>&1) && rc_m=0 || rc_m=$?
	out_r=$(D="$REF" bash -c "$1" 2>&1) && rc_r=0 || rc_r=$?
	out_m=${out_m//$MNT/D}
	out_r=${out_r//$REF/D}
	if [ "$out_m" != "$out_r" ] || [ "$rc_m" != "$rc_r" ]; then
		echo "mount ($rc_m): $out_m" >&2
		echo "ref   ($rc_r): $out_r" >&2
		return 1
	fi
}

@test "create with O_EXCL, O_TRUNC, O_APPEND" {
	same 'cd $D; echo one > f; set -o noclobber; (echo two > f) 2>/dev/null; echo rc=$?; cat f'
	same 'cd $D; echo abcdef > f; : > f; stat -c %s f; echo 12 >> f; echo 34 >> f; cat f'
	same 'cd $D; python3 -c "
import os
fd = os.open(\"g\", os.O_CREAT|os.O_EXCL|os.O_WRONLY, 0o640)
os.write(fd, b\"x\"*5000); os.close(fd)
try:
    os.open(\"g\", os.O_CREAT|os.O_EXCL|os.O_WRONLY)
except FileExistsError: print(\"EEXIST\")
fd = os.open(\"g\", os.O_WRONLY|os.O_APPEND); os.write(fd, b\"tail\"); os.close(fd)
fd = os.open(\"g\", os.O_RDWR|os.O_TRUNC); os.write(fd, b\"new\"); os.close(fd)
print(open(\"g\",\"rb\").read())"; stat -c "%s %a" g'
}

@test "read and write at any offset, across block boundaries" {
	same 'cd $D; python3 -c "
import os, random
r = random.Random(7)
fd = os.open(\"f\", os.O_CREAT|os.O_RDWR, 0o600)
for _ in range(300):
    off = r.randrange(0, 70000); n = r.randrange(1, 9000)
    os.pwrite(fd, bytes(r.randrange(256) for _ in range(n)), off)
for _ in range(100):
    off = r.randrange(0, 80000); n = r.randrange(1, 9000)
    print(len(os.pread(fd, n, off)), __import__(\"hashlib\").md5(os.pread(fd, n, off)).hexdigest())
print(os.fstat(fd).st_size)"; md5sum f'
}

@test "truncate and ftruncate both ways; sparse files read zeros in holes" {
	same 'cd $D; printf "%05000d" 7 > f; truncate -s 4096 f; md5sum f; truncate -s 100000 f; md5sum f; truncate -s 4097 f; md5sum f; truncate -s 1 f; cat f; truncate -s 0 f; stat -c %s f'
	same 'cd $D; dd if=/dev/urandom of=$D/../rnd bs=1k count=20 status=none; echo ok'
	same 'cd $D; dd if=$D/../rnd of=s bs=1k seek=1000 status=none; stat -c %s s; dd if=s bs=1k count=1000 status=none | tr -d "\0" | wc -c; tail -c 20480 s | md5sum; md5sum $D/../rnd | cut -c1-32'
	same 'cd $D; python3 -c "
import os
fd = os.open(\"t\", os.O_CREAT|os.O_RDWR, 0o600)
os.write(fd, b\"a\"*10000); os.ftruncate(fd, 3000); os.ftruncate(fd, 9000)
os.lseek(fd, 0, 0); d = os.read(fd, 20000); print(len(d), d.count(b\"a\"), d.count(b\"\\0\"))"'
}

@test "files larger than 4 GiB (sparse)" {
	same 'cd $D; truncate -s 5G big; printf tail >> big; stat -c %s big; tail -c 4 big; echo; dd if=big bs=1M skip=4095 count=1 status=none | tr -d "\0" | wc -c'
	same 'cd $D; dd if=/dev/zero of=big2 bs=1 count=1 seek=$((4*1024*1024*1024+77)) conv=notrunc status=none; stat -c %s big2'
}

@test "fallocate mode 0, keep-size, punch-hole and zero-range" {
	same 'cd $D; fallocate -l 100000 fa; stat -c %s fa; od -An -c fa | sort -u | head -3'
	same 'cd $D; echo hi > fb; fallocate -n -l 1000000 fb; stat -c %s fb; cat fb'
	same 'cd $D; head -c 30000 /dev/zero | tr "\0" x > fc; fallocate -p -o 5000 -l 10000 fc; fallocate -z -o 20000 -l 20000 fc; stat -c %s fc; od -An -c fc | uniq -c'
	# Collapse and insert range are not supported (EOPNOTSUPP).
	run fallocate -c -o 0 -l 4096 "$MNT/fc"
	[ "$status" -ne 0 ]
}

@test "mmap shared read/write" {
	same 'cd $D; python3 -c "
import mmap, os
with open(\"m\", \"wb\") as f: f.write(b\"0123456789\" * 1000)
with open(\"m\", \"r+b\") as f:
    mm = mmap.mmap(f.fileno(), 0)
    mm[5000:5005] = b\"HELLO\"; mm[0:1] = b\"X\"; mm.flush(); mm.close()
print(open(\"m\",\"rb\").read()[4995:5010])"; md5sum m'
}

@test "fsync and fdatasync" {
	same 'cd $D; python3 -c "
import os
fd = os.open(\"s\", os.O_CREAT|os.O_WRONLY, 0o600)
os.write(fd, b\"durable\"); os.fsync(fd); os.fdatasync(fd); os.close(fd)
dfd = os.open(\".\", os.O_RDONLY); os.fsync(dfd); os.close(dfd)"; cat s'
}

@test "unlink, rename over existing, directories, RENAME_NOREPLACE and RENAME_EXCHANGE" {
	same 'cd $D; echo a > a; echo b > b; mv a b; cat b; ls; mkdir -p x/y; echo z > x/y/z; mv x w; cat w/y/z; rm w/y/z; rmdir w/y; ls w; rm -r w; ls'
	same 'cd $D; echo a > a; echo b > b; mv -T --no-clobber a b 2>&1; cat a b; mkdir d1 d2; touch d2/f; mv -T d1 d2 2>&1 | sed "s/.*: //"; rmdir d2 2>&1 | sed "s/.*: //"'
	same 'cd $D; echo a > a; echo b > b; python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
AT = -100
r = libc.renameat2(AT, b\"a\", AT, b\"b\", 2)  # RENAME_EXCHANGE
print(r, open(\"a\").read().strip(), open(\"b\").read().strip())
r = libc.renameat2(AT, b\"a\", AT, b\"b\", 1)  # RENAME_NOREPLACE
print(r, os.strerror(ctypes.get_errno()))"'
}

@test "mkdir, rmdir of a non-empty directory, nested trees" {
	same 'cd $D; mkdir -p a/b/c/d; touch a/b/c/d/e; rmdir a/b/c/d 2>&1 | sed "s/.*: //"; find a | sort; rm -rf a; ls -A'
	same 'cd $D; mkdir m; mkdir m 2>&1 | sed "s/.*: //"; chmod 700 m; stat -c %a m'
}

@test "symlinks and readlink, dangling and long targets" {
	same 'cd $D; echo t > target; ln -s target l1; ln -s /no/such/file l2; ln -s ../../x/y l3; readlink l1 l2 l3; cat l1; stat -c %s l1 l3; cat l2 2>&1 | sed "s/.*: //"'
	long=$(printf 'p%.0s' $(seq 2000))
	same "cd \$D; ln -s $long longlink; readlink longlink | wc -c; stat -c %s longlink"
}

@test "hard links share contents and count links" {
	same 'cd $D; echo one > h1; ln h1 h2; echo two >> h2; cat h1; stat -c %h h1; mkdir sub; ln h1 sub/h3; stat -c %h h2; rm h1; cat sub/h3; stat -c %h h2'
}

@test "chmod, chown, utimensat" {
	same 'cd $D; touch f; chmod 4751 f; stat -c %a f; chown 1234:5678 f; stat -c "%u %g" f; touch -d "2001-02-03 04:05:06.123456789" f; stat -c %y f; ln -s f l; touch -h -d "2002-01-01" l; stat -c %y l; mkdir d; touch -d "1999-12-31" d; stat -c %Y d'
}

@test "statfs reports the backing filesystem and NAME_MAX 255" {
	run stat -f -c "%l" "$MNT"
	[ "$output" = 255 ]
	run df "$MNT"
	[ "$status" -eq 0 ]
}

@test "user xattrs round trip; other namespaces are not supported" {
	same 'cd $D; touch f; setfattr -n user.mime -v text/plain f; setfattr -n user.empty f; setfattr -n user.b -v 0x000102ff f; getfattr -d -e hex f | sort; setfattr -x user.mime f; getfattr -d f | sort; mkdir d; setfattr -n user.dir -v yes d; getfattr -n user.dir --only-values d; echo'
	run setfattr -n trusted.x -v 1 "$MNT/f"
	[ "$status" -ne 0 ]
	run getfattr -n user.missing "$MNT/f"
	[ "$status" -ne 0 ]
	[[ "$output" == *"No such attribute"* ]]
}

@test "xattr values and names are encrypted in the backing store" {
	touch "$MNT/f"
	setfattr -n user.patient-name -v "Jeanne Dupont" "$MNT/f"
	b=$(backing_of f)
	run getfattr -d -m - "$b"
	[[ "$output" != *"patient-name"* ]]
	[[ "$output" != *"Dupont"* ]]
}

@test "FIFOs and sockets via mknod" {
	same 'cd $D; mkfifo p; stat -c %F p; python3 -c "
import socket; s = socket.socket(socket.AF_UNIX); s.bind(\"sock\")"; stat -c %F sock; rm p sock; ls -A'
}

@test "names up to NAME_MAX (255 bytes), including multibyte UTF-8" {
	n255=$(printf 'n%.0s' $(seq 255))
	n256=$(printf 'n%.0s' $(seq 256))
	utf=$(printf 'é%.0s' $(seq 127))
	same "cd \$D; echo long > $n255; cat $n255; ls | wc -L; echo u > $utf; cat $utf; mv $n255 ${n255:0:200}; ls | sort | md5sum; mkdir d$utf; mv $utf d$utf/; ls d$utf | wc -c; ln d$utf/$utf hl; rm -r d$utf; cat hl"
	run touch "$MNT/$n256"
	[ "$status" -ne 0 ]
	[[ "$output" == *"too long"* ]]
}

@test "readdir stays correct while entries are added and removed" {
	for i in $(seq 1 400); do echo "$i" >"$MNT/f$i"; done
	python3 - "$MNT" <<'PY'
import os, sys
d = sys.argv[1]
seen = set()
it = os.scandir(d)
for i, e in enumerate(it):
    seen.add(e.name)
    if i == 50:
        for j in range(401, 451): open(os.path.join(d, f"f{j}"), "w").close()
        for j in range(300, 351): os.remove(os.path.join(d, f"f{j}"))
it.close()
# Entries present for the whole listing must each appear exactly once.
stable = {f"f{i}" for i in range(1, 300)} | {f"f{i}" for i in range(351, 401)}
missing = stable - seen
assert not missing, f"missing {sorted(missing)[:5]}"
PY
	[ "$(ls "$MNT" | wc -l)" -eq 399 ]
}

@test "POSIX and flock locks behave as on a local filesystem" {
	touch "$MNT/lk"
	flock -x "$MNT/lk" -c "flock -n -x '$MNT/lk' -c true" && exit 1
	python3 - "$MNT/lk" <<'PY'
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
pid = os.fork()
if pid == 0:
    fd2 = os.open(sys.argv[1], os.O_RDWR)
    try:
        fcntl.lockf(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB); os._exit(1)
    except OSError: os._exit(0)
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0
PY
}

@test "concurrent writers on one partial block keep both writes" {
	python3 - "$MNT/race" <<'PY'
import os, sys, threading
p = sys.argv[1]
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b"." * 4096)
def writer(ch, start):
    f = os.open(p, os.O_RDWR)
    for i in range(400):
        os.pwrite(f, ch, start + (i % 50))
    os.close(f)
ts = [threading.Thread(target=writer, args=(b"A", 0)), threading.Thread(target=writer, args=(b"B", 2000))]
[t.start() for t in ts]; [t.join() for t in ts]
data = os.pread(fd, 5000, 0)
assert data[0:50] == b"A" * 50 and data[2000:2050] == b"B" * 50, data[:60]
assert len(data) == 4096
PY
}
