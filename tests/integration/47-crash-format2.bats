#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Crash safety of format 2's metadata (docs/FORMAT.md 14.4 and 12): an
# object is created whole under a hidden name and renamed into place; a
# change of mode or owner is one write of its header (or one replacement of
# .lethefs.dir). The mounted daemon is killed (SIGKILL, injected by strace
# attached to it) at each call of each system call the operation makes;
# after a remount the object is there whole (with its record) or not at all,
# never a name without a record, and fsck is clean.

load helpers

setup() {
	setup_vault
	# The sweeps of chmod and chown below are of the header's record: a
	# file made without an inode attribute (those with one: at the end).
	mount_vault -o noiattr
	echo data >"$MNT/file"
	chmod 600 "$MNT/file"
	mkdir "$MNT/dir" "$MNT/tdir"
	chmod 700 "$MNT/dir" "$MNT/tdir"
	unmount_vault
}
teardown() {
	[ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null
	mountpoint -q "$MNT" && ! ls "$MNT" >/dev/null 2>&1 && umount -l "$MNT"
	teardown_vault
}

# Attaches strace to the daemon (serving with one worker thread), killing
# it at the $2-th call of $1, and
# runs the operation $3 (a shell command on $MNT). True when the daemon
# died there (its mount is then lazily unmounted); false when the
# operation made fewer such calls.
killed_during() {
	# One worker thread: strace counts calls per thread, so that the Nth
	# call is the Nth of the whole operation.
	mount_vault -o max_threads=1${MOPTS:+,$MOPTS}
	(cd "$MNT" && sh -c "$RESET") # the state before the operation
	local pid
	pid=$(daemon_pid)
	strace -f -qq -o /dev/null -p "$pid" -e trace="$1" -e inject="$1":signal=KILL:when="$2" &
	SPID=$!
	# Every thread traced before the operation starts.
	for _ in $(seq 50); do
		grep -q '^TracerPid:	0' /proc/"$pid"/task/*/status 2>/dev/null || break
		sleep 0.1
	done
	(cd "$MNT" && sh -c "$3") >/dev/null 2>&1 || true
	sleep 0.3
	# A killed daemon leaves its mount dead (ENOTCONN), and a zombie.
	if stat "$MNT" >/dev/null 2>&1; then
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null || true
		SPID=
		unmount_vault
		return 1
	fi
	wait "$SPID" 2>/dev/null || true
	SPID=
	umount -l "$MNT"
	return 0
}

# After a crash: remount (recovery), check with $1 (a shell command on
# $MNT that fails when the state is neither before nor after), fsck.
check_after() {
	mount_vault ${MOPTS:+-o $MOPTS}
	(cd "$MNT" && sh -c "$1")
	# The untouched objects are intact.
	[ "$(cat "$MNT/file")" = data ]
	[ "$(stat -c %a "$MNT/dir")" = 700 ]
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

# Sweeps the kill over every call of each system call in $2 during
# operation $1 (from the state $RESET makes); check $3 runs after each.
# Prints how many kills.
sweep() {
	local op=$1 calls=$2 check=$3 kills=0
	for sc in $calls; do
		for ((n = 1; n <= 12; n++)); do
			killed_during "$sc" "$n" "$op" || break
			kills=$((kills + 1))
			echo "killed at $sc #$n"
			check_after "$check"
		done
	done
	echo "$kills kills"
	[ "$kills" -ge "${4:-3}" ]
}

@test "kill -9 at each step of create: the file exists whole with its record, or not at all" {
	RESET="rm -f new"
	sweep "umask 022; touch new" "openat pwrite64 renameat2" \
		'[ ! -e new ] || [ "$(stat -c "%a %s %F" new)" = "644 0 regular empty file" ]'
}

@test "kill -9 at each step of chmod and chown: the old or the new record, never none" {
	# (chown clears the set-user-ID bit, in the same request.)
	RESET="chmod 600 file; chown 0:0 file"
	sweep "chmod 4751 file; chown 12:34 file" "openat pwrite64 utimensat" \
		'm=$(stat -c "%a %u %g" file); echo "state: $m"; [ "$m" = "600 0 0" ] || [ "$m" = "4751 0 0" ] || [ "$m" = "751 12 34" ]'
}

@test "kill -9 at each step of chmod of a directory: .lethefs.dir is replaced whole" {
	RESET="chmod 700 tdir"
	sweep "chmod 755 tdir" "openat write fsync renameat utimensat" \
		'm=$(stat -c %a tdir); { [ "$m" = 700 ] || [ "$m" = 755 ]; } && ls tdir >/dev/null'
}

@test "kill -9 at each step of mkdir: the directory exists whole with its record, or not at all" {
	RESET="rmdir sub 2>/dev/null || true"
	sweep "umask 022; mkdir sub" "mkdirat openat write fsync renameat2" \
		'[ ! -e sub ] || { [ "$(stat -c "%a %F" sub)" = "755 directory" ] && touch sub/x && rm sub/x; }'
}

@test "kill -9 at each step of mknod and symlink: the node exists whole, or not at all" {
	RESET="rm -f fifo link"
	sweep "mkfifo -m 640 fifo; ln -s file link" "openat pwrite64 renameat2" \
		'{ [ ! -e fifo ] || [ "$(stat -c "%a %F" fifo)" = "640 fifo" ]; } && { [ ! -L link ] || [ "$(readlink link)" = file ]; }'
}

# With inode attributes (-o iattr, FORMAT.md 14.9): the attribute is set on
# the hidden object before its rename; a change of mode or owner is one
# setxattr after the header was read and matched; emptying a file (O_TRUNC)
# writes its new header unflagged, then the attribute, then the flag. Each
# state is checked with and without -o iattr (a mount without it reads the
# header first, then the attribute the flag names). The sweeps above run
# with the default, -o noiattr.

iattr_check() { # $1: the check
	check_after "$1"
	MOPTS=noiattr check_after "$1"
}

@test "iattr: kill -9 at each step of create: the file whole with its attribute, or not at all" {
	MOPTS=iattr
	RESET="rm -f new"
	sweep "umask 022; touch new" "openat pwrite64 setxattr renameat2" \
		'[ ! -e new ] || { [ "$(stat -c "%a %s %F" new)" = "644 0 regular empty file" ] && getfattr -n user.l "$(find '"$VAULT"'/d -maxdepth 1 -inum $(stat -c %i new))" >/dev/null; }'
	MOPTS=iattr iattr_check true
}

@test "iattr: kill -9 at each step of chmod and chown: the old or the new mode, never none" {
	MOPTS=iattr
	mount_vault -o iattr
	echo idata >"$MNT/ifile"
	unmount_vault
	RESET="chmod 600 ifile; chown 0:0 ifile"
	local ok='m=$(stat -c "%a %u %g" ifile); echo "state: $m"; { [ "$m" = "600 0 0" ] || [ "$m" = "4751 0 0" ] || [ "$m" = "751 12 34" ]; } && [ "$(cat ifile)" = idata ]'
	# The header was read and matched by the RESET's chmod: each change is
	# then one setxattr, and nothing else (two kills).
	sweep "chmod 4751 ifile; chown 12:34 ifile" "setxattr openat pwrite64" "$ok" 2
	MOPTS=noiattr check_after "$ok"
}

@test "iattr: kill -9 at each step of O_TRUNC: the old or the new contents, the mode kept" {
	MOPTS=iattr
	mount_vault -o iattr
	echo old >"$MNT/tfile"
	chmod 640 "$MNT/tfile"
	unmount_vault
	RESET="echo old >tfile"
	local ok='c=$(cat tfile); m=$(stat -c %a tfile); echo "state: $c $m"; [ "$m" = 640 ] && { [ "$c" = old ] || [ "$c" = "" ] || [ "$c" = new ]; }'
	sweep "echo new >tfile" "ftruncate pwrite64 setxattr" "$ok"
	MOPTS=noiattr check_after "$ok"
}
