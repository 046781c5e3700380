#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A crash at every step of a rotation (issue 12): the daemon, traced by
# strace, is killed at the Nth pwrite64, fdatasync or renameat of the
# rotation thread (strace counts per thread, and nothing else writes while
# it runs), for N = 1, 3, 5, ... (every N with LETHEFS_FULL_SWEEP=1, as
# make test-faults runs it) until the rotation gets through. Each run
# resumes where the last one was killed. After each crash the vault
# mounts, the recovery finishes the interrupted conversion from its
# journal record, every file reads back, fsck is clean, and the rotation
# resumes and retires the old epoch.

load helpers

setup() {
	setup_vault
	mount_vault
	mkdir -p "$MNT/dir/sub"
	head -c 300000 /dev/urandom >"$MNT/dir/sub/big"
	echo small >"$MNT/dir/small"
	ln -s dir/small "$MNT/link"
	setfattr -n user.tag -v kept "$MNT/dir/small"
	(cd "$MNT" && find . -type f -exec md5sum {} + | sort -k2) >"$T/sums"
	unmount_vault
}
teardown() {
	[ -n "${TRACER:-}" ] && kill -9 "$TRACER" 2>/dev/null
	fusermount3 -u "$MNT" 2>/dev/null || true
	teardown_vault
}

check_tree() {
	(cd "$MNT" && find . -type f -exec md5sum {} + | sort -k2) | diff - "$T/sums"
	[ "$(readlink "$MNT/link")" = dir/small ]
	[ "$(getfattr --only-values -n user.tag "$MNT/dir/small")" = kept ]
}

epochs_in_keyring() {
	echo $((($(stat -c %s "$VAULT/lethefs.keyring") - 80) / 40))
}

# Mounts under strace killing the daemon at the Nth call of $1, starts a
# rotation and waits. Returns 0 when the daemon was killed, 1 when the
# rotation finished without reaching the Nth call.
rotate_killed_at() { # syscall N
	strace -f -o /dev/null -e trace="$1" -e inject="$1":signal=SIGKILL:when="$2" \
		"$LETHEFS" mount -f --passfile "$T/pass" "$VAULT" "$MNT" 2>/dev/null &
	TRACER=$!
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && "$LETHEFS" status "$MNT" >/dev/null 2>&1 && break
		# Killed during the mount: no need to wait out the 10 s.
		kill -0 "$TRACER" 2>/dev/null || break
		sleep 0.1
	done
	"$LETHEFS" rotate "$MNT" >/dev/null 2>&1 || true
	for _ in $(seq 200); do
		kill -0 "$TRACER" 2>/dev/null || break
		run "$LETHEFS" status --json "$MNT"
		[[ "$output" == *'"rotation_state":"idle"'* ]] && break
		sleep 0.1
	done
	if kill -0 "$TRACER" 2>/dev/null; then
		fusermount3 -u "$MNT"
		wait "$TRACER" || true
		TRACER=
		return 1
	fi
	wait "$TRACER" || true
	TRACER=
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	return 0
}

# After a crash: mount (recovery), check, unmount, fsck.
assert_recovered() {
	mount_vault
	check_tree
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

sweep() { # syscall
	local n=1 kills=0 stride=2
	if [ "${LETHEFS_FULL_SWEEP:-0}" = 1 ]; then stride=1; fi
	while rotate_killed_at "$1" "$n"; do
		kills=$((kills + 1))
		assert_recovered
		n=$((n + stride))
		[ "$n" -le 60 ]
	done
	echo "# $1: $kills kills" >&3
	[ "$kills" -gt 0 ]
	# The last run got through: the rotation completed and retired.
	mount_vault
	"$LETHEFS" rotate --wait "$MNT" >/dev/null
	check_tree
	unmount_vault
	[ "$(epochs_in_keyring)" -eq 1 ]
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT" >/dev/null
}

@test "rotation killed at every other pwrite64 of its thread (all: LETHEFS_FULL_SWEEP=1): recovered each time" {
	sweep pwrite64
}

@test "rotation killed at every other fdatasync of its thread (all: LETHEFS_FULL_SWEEP=1): recovered each time" {
	sweep fdatasync
}

@test "rotation killed at every other renameat of its thread (all: LETHEFS_FULL_SWEEP=1): recovered each time" {
	sweep renameat
}
