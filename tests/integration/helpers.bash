# SPDX-License-Identifier: Apache-2.0
# Shared set-up for integration tests: each test gets a fresh vault (with
# cheap Argon2id parameters) and, when it asks, a live mount of it.
# Teardown unmounts and fails the test if a mount or daemon is left behind.

LETHEFS=${LETHEFS:-$BATS_TEST_DIRNAME/../../build/lethefs}
PASS=correct-horse-battery-staple

setup_vault() {
	# A file whose setup() made its empty $T already gets that one: a new
	# one would leave the first behind (teardown_vault removes only $T).
	if [ -z "${T:-}" ] || [ ! -d "$T" ] || [ -n "$(ls -A "$T")" ]; then
		T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	fi
	VAULT=$T/vault
	MNT=$T/mnt
	REF=$T/ref
	mkdir -p "$MNT" "$REF"
	printf '%s\n' "$PASS" >"$T/pass"
	chmod 600 "$T/pass"
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "${INIT_ARGS[@]}" "$VAULT" >/dev/null
}

mount_vault() {
	"$LETHEFS" mount --passfile "$T/pass" "$@" "$VAULT" "$MNT"
}

# The pid of the daemon serving $VAULT (empty when none runs).
daemon_pid() { pgrep -f "lethefs mount .*$VAULT" | head -n1; }

# Fails unless `lethefs fsck` of $VAULT exits 0 (its output in the TAP).
fsck_clean() {
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

# Whether $MNT is a mount point, from the mount table: mountpoint(1) stats
# the directory, which fails (EIO) on a mount whose root does not open (a
# format-2 root whose record the keyring cannot open). The table escapes
# space, tab, newline and backslash in octal; ENVIRON keeps the name as is.
is_mounted() {
	local m=${MNT//\\/\\134}
	m=${m// /\\040}
	m=${m//$'\t'/\\011}
	m=${m//$'\n'/\\012}
	M="$m" awk '$2 == ENVIRON["M"] { f = 1 } END { exit !f }' /proc/self/mounts
}

unmount_vault() {
	# lethefs umount waits for the daemon to exit (plain fusermount3 -u
	# returns before that, and under load the daemon took over 5 s); a mount
	# it refuses (busy, no daemon answering) is taken down the old way.
	if is_mounted; then
		"$LETHEFS" umount --timeout 120s "$MNT" 2>/dev/null || fusermount3 -u "$MNT" ||
			umount -l "$MNT"
	fi
	# The daemon exits once unmounted; give it a moment (up to 60 s: its
	# last step is a syncfs of the backing filesystem, which waits for
	# everything dirty on that disk, other programs' writes included; on a
	# machine busy writing that took over a minute).
	for _ in $(seq 600); do
		pgrep -f "lethefs mount .*$VAULT" >/dev/null || return 0
		sleep 0.1
	done
	echo "daemon for $VAULT still running after unmount" >&2
	return 1
}

teardown_vault() {
	local rc=0
	unmount_vault || rc=1
	# The staging clock's mark for this boot (docs/STAGING.md), if any.
	local uuid
	uuid=$(sed -n 's/^uuid = //p' "$VAULT/lethefs.conf" 2>/dev/null)
	[ -z "$uuid" ] || rm -f "/run/lethefs/staging-clock-$uuid"
	if is_mounted; then
		echo "mount left behind at $MNT" >&2
		rc=1
	fi
	rm -rf "$T"
	return $rc
}

# Fails when any byte string in the arguments occurs anywhere under the
# backing vault (names or contents).
assert_not_in_backing() {
	for s in "$@"; do
		if grep -rqaF -- "$s" "$VAULT"; then
			echo "plaintext '$s' found in backing store:" >&2
			grep -rlaF -- "$s" "$VAULT" >&2
			return 1
		fi
		if find "$VAULT" -name "*$s*" | grep -q .; then
			echo "plaintext name '$s' found in backing store" >&2
			return 1
		fi
	done
}

# The backing file (path under $VAULT/d) holding plaintext path $1, found by
# inode number through the mount.
backing_of() {
	local ino
	ino=$(stat -c %i "$MNT/$1")
	find "$VAULT/d" -inum "$ino" | head -n1
}

# XORs the byte at offset $2 of file $1 with 0x01.
flip_byte() {
	python3 - "$1" "$2" <<'PY'
import os, sys
p, off = sys.argv[1], int(sys.argv[2])
fd = os.open(p, os.O_RDWR)
b = os.pread(fd, 1, off)
assert len(b) == 1, "offset past end of file"
os.pwrite(fd, bytes([b[0] ^ 1]), off)
os.close(fd)
PY
}

# Mounts in the foreground with the log in $T/daemon.log.
mount_logged() {
	"$LETHEFS" mount -f --passfile "$T/pass" "$@" "$VAULT" "$MNT" 2>"$T/daemon.log" &
	local pid=$!
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && return 0
		kill -0 $pid 2>/dev/null || return 1 # it failed: no 10 s wait
		sleep 0.1
	done
	return 1
}

# Mounts $VAULT on $MNT with the given secret options, proves the mount
# reads, and unmounts.
mount_with() {
	"$LETHEFS" mount "$@" "$VAULT" "$MNT" || return 1
	ls "$MNT" >/dev/null
	unmount_vault
}

# Succeeds when the given secret options unlock $VAULT (no mount: key
# export unlocks and prints, which is all these tests need).
unlocks_with() {
	"$LETHEFS" key export "$@" "$VAULT" >/dev/null 2>&1
}

# The vault's format (lethefs.conf), and the length of a file header of
# that format: where block 0 starts in a backing file (FORMAT.md 6, 14).
vault_format() { sed -n 's/^format = //p' "$VAULT/lethefs.conf"; }
hdr_len() { if [ "$(vault_format)" = 1 ]; then echo 48; else echo 152; fi; }

# Fails unless the given secret options are refused as a wrong secret
# (exit 3, docs/CLI-ABI.md): a refusal for any other reason (a missing
# file, a usage error, a corrupt vault) proves nothing about the secret.
# Written without `! unlocks_with`: bash's errexit ignores a negated
# command, so such a line in a test can never fail it.
refuses_secret() {
	local rc=0
	"$LETHEFS" key export "$@" "$VAULT" >/dev/null 2>"$T/refuses_secret.err" || rc=$?
	[ "$rc" -eq 3 ] && return 0
	echo "key export $*: exit $rc, expected 3 (wrong secret):" >&2
	cat "$T/refuses_secret.err" >&2
	return 1
}

# Fails unless directory $1 is not a mount point: mountpoint exits 32 for
# that, but 1 when it cannot even stat the directory (a dead FUSE mount
# left behind: "Transport endpoint is not connected"), which must fail.
assert_not_mounted() {
	local rc=0
	mountpoint -q "$1" || rc=$?
	[ "$rc" -eq 32 ] && return 0
	echo "$1: mountpoint exited $rc, expected 32 (not a mount point)" >&2
	return 1
}

# Fails unless `grep -q ARGS...` finds no match (exit 1); a grep error
# (exit 2: a missing or unreadable file) fails too, where `! grep` passed.
assert_no_match() {
	local rc=0
	grep -q "$@" || rc=$?
	[ "$rc" -eq 1 ] && return 0
	echo "grep $*: exit $rc, expected 1 (no match)" >&2
	[ "$rc" -ne 0 ] || grep -m 5 "$@" >&2 || true
	return 1
}

# Appends 4 KiB of random bytes to file $1 and fsyncs it, again and again,
# until an append or its fsync fails (a full disk) or $2 pages were added.
# One process for the whole loop: a `head -c 4096 >>F && sync F` per page
# cost two forks each, about 7 s per 8 MiB filled.
fill_by_synced_pages() {
	python3 - "$1" "$2" <<'PY'
import os, sys
path, most = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
try:
    for _ in range(most):
        page = os.urandom(4096)
        if os.write(fd, page) != len(page):
            break
        os.fsync(fd)
except OSError:
    pass
try:
    os.close(fd)
except OSError:
    pass
PY
}

# Cheap Argon2id for slots created in tests.
KDF=(--allow-weak-kdf --kdf-ops 1 --kdf-mem 8M)

# The sampled kill sweeps of `make test` (docs/TESTING.md, "What make test
# samples"): every STRIDE-th call, starting at a phase drawn per run, so
# that runs one after another try different calls and together all of
# them. LETHEFS_FULL_SWEEP=1 tries every call; LETHEFS_SWEEP_PHASE=P repeats
# the phase a failed run printed.
sweep_stride() { # sampled stride -> the stride to use
	if [ "${LETHEFS_FULL_SWEEP:-0}" = 1 ]; then echo 1; else echo "$1"; fi
}
sweep_offset() { # stride -> 0 .. stride-1, printed to the TAP as a comment
	local phase=${LETHEFS_SWEEP_PHASE:-$((RANDOM % $1))}
	phase=$((phase % $1))
	echo "# sweep phase $phase of stride $1 (LETHEFS_SWEEP_PHASE=$phase repeats it)" >&3
	echo "$phase"
}

# Pages of file $1 in the page cache (fincore, util-linux).
cached_pages() { fincore -n -b -o PAGES "$1" | tr -d ' '; }

# Drops file $1's pages from the page cache (fsync'd first), and checks
# that fewer than $2 (default 16) stay: the kernel skips pages it cannot
# free at that moment (ext4 buffers the journal still holds, pages in
# another CPU's batch), and on a busy machine a first DONTNEED once left
# the whole file cached (CI), which then read as if uncached reads had
# been bypassed. 54-direct-read, 59-random-read.
evict() {
	local pages
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
PY
		pages=$(cached_pages "$1")
		[ "$pages" -lt "${2:-16}" ] && return 0
		sleep 0.5
	done
	echo "# could not evict $1: $pages pages still cached" >&2
	return 1
}

# The vault on a tmpfs of $1 MiB (a backing filesystem that fills up),
# mounted at $T/small; the caller's teardown unmounts $SMALL.
small_vault() {
	SMALL=$T/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o "size=${1}m" tmpfs "$SMALL"
	VAULT=$SMALL/vault
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$VAULT" >/dev/null
}

# Writes the bytes of file $1 into $2 (created if need be) in one write(2)
# and keeps $2 open for $3 seconds in the background ($writer is its pid);
# returns once the write has returned.
held_writer() {
	rm -f "$T/held-written"
	python3 - "$1" "$2" "$T/held-written" "$3" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, open(sys.argv[1], "rb").read())
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[4]))
PY
	writer=$!
	for _ in $(seq 200); do
		[ -f "$T/held-written" ] && return 0
		sleep 0.05
	done
	echo "# the held writer did not write within 10 s" >&2
	return 1
}

# Waits up to 10 s for file $1 to exist (a background writer's signal).
wait_for_file() {
	for _ in $(seq 200); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	echo "# $1 did not appear within 10 s" >&2
	return 1
}

# Skips the test when $LETHEFS is a sanitizer build (make asan): memory
# figures are then ASan's, and a daemon run under LD_PRELOAD (libfaketime)
# deadlocks in ASan's allocator after its fork.
skip_if_sanitized() {
	if nm -D "$LETHEFS" 2>/dev/null | grep -q __asan_init; then
		skip "sanitizer build"
	fi
}

# A stalled engine, for shared mounts: holds a write lock on the byte that
# stands for the length of the backing file of $1 (a path below $MNT;
# LFS_FLOCK_SIZE, fs/filelock.h), as another host's tail update would, so
# that this mount's writes of the file wait (its write-behind keeps
# acknowledging them into the queue) and so does everything that waits for
# that queue: a slow engine, made to last. The holder's pid is $stall_pid;
# unstall ends it (after a kill -9 of the daemon, before the remount: its
# recovery of the file takes that lock). With $2 (a writer's log of what
# it was acknowledged, one line each), $stall_mark is the number of lines
# it had when the lock was taken.
stall_backing() {
	stall_files "${2:-/dev/null}" "$(backing_of "$1")"
}

# The same for backing file $1 (a path below $VAULT).
stall_file() {
	stall_files "${2:-/dev/null}" "$1"
}

# The same for the backing files $2... at once, $1 the log (or /dev/null).
stall_files() {
	local f
	for f in "${@:2}"; do
		[ -f "$f" ] || return 1
	done
	rm -f "$T/stalled"
	python3 - "$T/stalled" "$@" <<'PY' &
import fcntl, os, struct, sys, time
# struct flock: type, whence, start, length, pid (0: an OFD lock)
lk = struct.pack("@hhqqixxxx", fcntl.F_WRLCK, os.SEEK_SET, 1 << 62, 1, 0)
fds = [os.open(f, os.O_RDWR) for f in sys.argv[3:]]
for fd in fds:
    fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, lk)
with open(sys.argv[2], "rb") as log:
    mark = log.read().count(b"\n")
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % mark)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
PY
	stall_pid=$!
	wait_for_file "$T/stalled" || return 1
	stall_mark=$(cat "$T/stalled")
}

unstall() {
	[ -n "${stall_pid:-}" ] || return 0
	kill "$stall_pid" 2>/dev/null || true
	wait "$stall_pid" 2>/dev/null || true
	stall_pid=""
}
