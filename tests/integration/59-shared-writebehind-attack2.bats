#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Attacks on the write-behind of shared mounts (fs/sharedwb.h), continued
# from 59-shared-writebehind-attack.bats: a shred and a lock while writes
# are queued, kill -9 and SIGTERM of the daemon, its memory, a reader that
# follows a writer, two hosts.

load helpers
load hosts
load wbattack

@test "wb attack: a staging directory shredded while a file in it has queued writes: no hang, its ciphertext gone" {
	mount_vault -o shared
	"$LETHEFS" stage create --ttl 1h "$MNT/st"
	python3 - "$MNT/st/f" "$T/written" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
t = time.time()
try:
    while time.time() - t < 4:
        os.write(fd, os.urandom(1 << 20))
        open(sys.argv[2], "w").close()
except OSError as e:
    print("write:", e)
try:
    os.close(fd)
except OSError as e:
    print("close:", e)
PY
	writer=$!
	wait_for_file "$T/written"
	timeout 20 "$LETHEFS" stage shred "$MNT/st"
	timeout 20 sh -c "while kill -0 $writer 2>/dev/null; do sleep 0.1; done"
	wait "$writer" || true
	[ ! -e "$MNT/st" ]
	# Nothing of the file came back after the shred (a write landing late
	# would leave a backing file of MiBs).
	sleep 1
	run find "$VAULT" -type f -size +512k ! -name 'lethefs.*'
	echo "$output"
	[ -z "$output" ]
	echo after >"$MNT/after"
	[ "$(cat "$MNT/after")" = after ]
	unmount_vault
	fsck_clean
}

@test "wb attack: a lock while a writer keeps writing does not hang; what was fsync'd is intact after unlock" {
	mount_vault -o shared
	head -c $((4 << 20)) /dev/urandom >"$T/prefix"
	python3 - "$T/prefix" "$MNT/w" "$T/synced" <<'PY' &
import os, sys
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, open(sys.argv[1], "rb").read())
os.fsync(fd)
open(sys.argv[3], "w").close()
try:
    while True:
        os.write(fd, os.urandom(1 << 20))
except OSError:
    pass
try:
    os.close(fd)
except OSError:
    pass
PY
	writer=$!
	wait_for_file "$T/synced"
	sleep 0.3
	timeout 20 "$LETHEFS" lock --force "$MNT"
	timeout 10 sh -c "while kill -0 $writer 2>/dev/null; do sleep 0.1; done"
	wait "$writer" || true
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	cmp -n $((4 << 20)) "$T/prefix" "$MNT/w"
	cat "$MNT/w" >/dev/null
	unmount_vault
	fsck_clean
}

@test "wb attack: kill -9 with many files queued: every fsync'd file intact, remount, fsck clean" {
	mount_vault -o shared
	python3 - "$MNT" "$T/synced" <<'PY' &
import os, sys
d = sys.argv[1]
fds = []
for i in range(8):
    fd = os.open("%s/s%d" % (d, i), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, bytes([i + 1]) * (3 << 20))
    os.fsync(fd)
    fds.append(fd)
open(sys.argv[2], "w").close()
try:
    while True:
        for fd in fds:
            os.write(fd, os.urandom(1 << 20))
except OSError:
    pass
PY
	writer=$!
	wait_for_file "$T/synced"
	sleep 0.5
	kill -9 "$(daemon_pid)"
	wait "$writer" || true
	fusermount3 -u "$MNT" || umount -l "$MNT"
	for _ in $(seq 50); do
		[ -z "$(daemon_pid)" ] && break
		sleep 0.1
	done
	mount_vault -o shared
	for i in $(seq 0 7); do
		cmp -n $((3 << 20)) <(head -c $((3 << 20)) /dev/zero | tr '\0' "\\$(printf %o $((i + 1)))") "$MNT/s$i"
		cat "$MNT/s$i" >/dev/null
	done
	unmount_vault
	fsck_clean
}

@test "wb attack: many files written at once and never closed: the daemon's memory stays bounded, data right" {
	skip_if_sanitized
	mount_vault -o shared
	pid=$(daemon_pid)
	before=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	python3 - "$MNT" "$T/done" <<'PY' &
import os, sys, time
d = sys.argv[1]
fds = [os.open("%s/m%d" % (d, i), os.O_WRONLY | os.O_CREAT, 0o600) for i in range(16)]
for r in range(6):
    for i, fd in enumerate(fds):
        os.write(fd, bytes([i + 1]) * (1 << 20))
open(sys.argv[2], "w").close()
time.sleep(3)  # the writers never closed yet
PY
	writer=$!
	for _ in $(seq 200); do
		[ -f "$T/done" ] && break
		sleep 0.05
	done
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	echo "VmHWM before $before kB, after $hwm kB; VmRSS $rss kB"
	for i in $(seq 0 15); do
		[ "$(stat -c %s "$MNT/m$i")" -eq $((6 << 20)) ]
	done
	wait "$writer"
	# 32 MiB of queues, and the request buffers of the FUSE threads.
	[ $((hwm - before)) -lt $((56 << 10)) ]
	for i in $(seq 0 15); do
		[ "$(tr -d "\\$(printf %o $((i + 1)))" <"$MNT/m$i" | wc -c)" -eq 0 ]
	done
}

@test "wb attack: the daemon stopped by SIGTERM with writes queued and the file open: every acknowledged write lands" {
	mount_vault -o shared
	head -c $((24 << 20)) /dev/urandom >"$T/data"
	held_writer "$T/data" "$MNT/t" 30
	pid=$(daemon_pid)
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$writer" 2>/dev/null || true
	wait "$writer" || true
	mountpoint -q "$MNT" && { fusermount3 -u "$MNT" || umount -l "$MNT"; }
	mount_vault -o shared
	cmp "$T/data" "$MNT/t"
	unmount_vault
	fsck_clean
}

@test "wb attack: thousands of small files written once: the daemon's memory does not grow by kilobytes per file" {
	skip_if_sanitized
	# Each inode written once keeps its queue while the kernel caches the
	# inode; an idle queue must cost little (the daemon's memory is
	# locked): an untar of 100 000 files must not pin a gigabyte.
	mount_vault -o shared
	pid=$(daemon_pid)
	before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	python3 - "$MNT" <<'PY'
import os, sys
for d in range(6):
    os.mkdir("%s/d%d" % (sys.argv[1], d))
    for i in range(500):
        with open("%s/d%d/f%d" % (sys.argv[1], d, i), "wb") as f:
            f.write(b"x" * 100)
PY
	after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	echo "VmRSS before $before kB, after 3000 files $after kB"
	[ $((after - before)) -lt $((8 << 10)) ]
}

@test "wb attack: a reader following a writer that never pauses is not starved, and reads what was written" {
	mount_vault -o shared
	python3 - "$MNT/s" <<'PY'
import os, sys, time
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
pid = os.fork()
if pid == 0:
    end = time.time() + 3
    i = 0
    while time.time() < end and i < 96:
        os.write(fd, bytes([i % 251]) * (1 << 20))
        i += 1
    os._exit(0)
r = os.open(p, os.O_RDONLY)
got, t0 = 0, time.time()
while True:
    b = os.pread(r, 1 << 20, got)
    if not b:
        if os.waitpid(pid, os.WNOHANG)[0]:
            b = os.pread(r, 1 << 20, got)
            if not b:
                break
        continue
    assert b == bytes([(got >> 20) % 251]) * len(b) or got % (1 << 20), "content at %d" % got
    got += len(b)
    assert time.time() - t0 < 20, "reader starved"
os.close(fd)
assert got == os.stat(p).st_size
print("read", got >> 20, "MiB in", round(time.time() - t0, 1), "s")
PY
}

@test "wb attack: two hosts: what host A wrote (queued) is all on host B once A's close(2) returned" {
	HOSTS_DIR=$T
	mkdir -p "$T/mA" "$T/mB"
	hosts_start rvA rvB
	for h in A B; do
		on_host rv$h "$LETHEFS" mount -o shared --passfile "$T/pass" "$VAULT" "$T/m$h"
	done
	head -c $((20 << 20)) /dev/urandom >"$T/data"
	for round in 1 2 3; do
		on_host rvA dd if="$T/data" of="$T/mA/big$round" bs=1M status=none
		on_host rvB cmp "$T/data" "$T/mB/big$round"
		# and an overwrite of a part, seen at once as well
		on_host rvA dd if=/dev/zero of="$T/mA/big$round" bs=64k count=8 seek=5 conv=notrunc status=none
		on_host rvB cmp -n $((5 * 65536)) "$T/data" "$T/mB/big$round"
		[ "$(on_host rvB dd if="$T/mB/big$round" bs=64k skip=5 count=8 status=none | tr -d '\0' | wc -c)" -eq 0 ]
	done
	hosts_stop "lethefs mount .*$VAULT" rvA rvB || true
	HOSTS_DIR=
	fsck_clean
}
