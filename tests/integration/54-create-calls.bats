#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Creating files with fewer backing-store calls (issues 16 and 17,
# docs/PERFORMANCE.md "Backing calls per created file"): the reply for a
# new object comes from what the daemon made (no lookup of its name, no
# read of its header), a chown or chmod that changes nothing rewrites no
# header, and what the daemon knows of an object's ACLs saves asking the
# backing store at every create and chmod. Each shortcut is checked
# against what it replaces: attributes as a fresh lookup after a remount
# sees them, ACLs and modes as on a plain directory ($REF), the change
# time a chown sets on disk.

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

# type, mode, owner, group, size and inode number of each path given.
attrs() { # root paths...
	local root=$1
	shift
	(cd "$root" && stat -c '%n %F %a %u %g %s %i' "$@")
}

@test "a new file, directory, symlink and FIFO show at creation what a lookup after a remount shows" {
	for d in "$REF" "$MNT"; do
		(umask 027 && printf 'twelve bytes' >"$d/f" && mkdir "$d/dir" && mkfifo "$d/fifo" &&
			touch "$d/empty" && ln -s "a target of 26 characters" "$d/link" &&
			mkdir -m 2770 "$d/sgid" && touch "$d/sgid/inside")
		chown 4242:4343 "$d/empty"
	done
	names=(f dir fifo empty link sgid sgid/inside)
	at_creation=$(attrs "$MNT" "${names[@]}")
	# As on a plain directory (inode numbers aside).
	[ "$(echo "$at_creation" | cut -d' ' -f1-6)" = "$(attrs "$REF" "${names[@]}" | cut -d' ' -f1-6)" ]
	unmount_vault
	mount_vault
	[ "$(attrs "$MNT" "${names[@]}")" = "$at_creation" ]
	[ "$(cat "$MNT/f")" = "twelve bytes" ]
	[ "$(readlink "$MNT/link")" = "a target of 26 characters" ]
}

@test "a chown or chmod to what the file has already changes its change time on disk, and nothing else" {
	echo data >"$MNT/f"
	chown 4242:4343 "$MNT/f"
	chmod 640 "$MNT/f"
	b=$(backing_of f)
	before=$(sha256sum <"$b")
	c0=$(stat -c %.9Z "$b")
	sleep 0.05
	chown 4242:4343 "$MNT/f"
	c1=$(stat -c %.9Z "$b")
	sleep 0.05
	chmod 640 "$MNT/f"
	c2=$(stat -c %.9Z "$b")
	[ "$(sha256sum <"$b")" = "$before" ] # the header was not rewritten
	python3 -c "import sys; a, b, c = map(float, sys.argv[1:]); sys.exit(not (a < b < c))" "$c0" "$c1" "$c2"
	unmount_vault
	mount_vault
	[ "$(stat -c '%a %u %g' "$MNT/f")" = "640 4242 4343" ]
	[ "$(cat "$MNT/f")" = data ]
}

@test "what the daemon knows of ACLs follows every later change: setfacl, default ACLs, removal" {
	for d in "$REF" "$MNT"; do
		mkdir "$d/dir"
		touch "$d/dir/a" # the daemon learns: no default ACL on dir, none on a
		chmod 600 "$d/dir/a"
		setfacl -m u:4242:rw "$d/dir/a"
		chmod 640 "$d/dir/a" # the mask must follow the group bits
		setfacl -d -m u:4242:rwx "$d/dir"
		touch "$d/dir/b" # inherits the default ACL set since
		mkdir "$d/dir/c"
		setfacl -k "$d/dir" # and without it again
		touch "$d/dir/e"
		setfacl -b "$d/dir/a"
		chmod 600 "$d/dir/a"
		setfacl -m u:4242:r "$d/dir/a"
		chmod 604 "$d/dir/a"
	done
	for p in dir dir/a dir/b dir/c dir/e; do
		[ "$(cd "$MNT" && getfacl -p "$p" 2>&1)" = "$(cd "$REF" && getfacl -p "$p" 2>&1)" ]
		[ "$(stat -c %A "$MNT/$p")" = "$(stat -c %A "$REF/$p")" ]
	done
	# And what is on disk says the same.
	unmount_vault
	mount_vault
	for p in dir dir/a dir/b dir/c dir/e; do
		[ "$(cd "$MNT" && getfacl -p "$p" 2>&1)" = "$(cd "$REF" && getfacl -p "$p" 2>&1)" ]
	done
}

@test "creating and writing small files reads nothing back from the backing store" {
	command -v strace >/dev/null || skip "strace missing (scripts/install-deps.sh test)"
	pid=$(pgrep -f "lethefs mount .*$VAULT" | head -n1)
	[ -n "$pid" ]
	mkdir "$MNT/d"
	ls "$MNT/d" >/dev/null
	strace -f -qq -o "$T/trace" -e trace=pread64,openat,newfstatat,fstat -p "$pid" &
	spid=$!
	sleep 1
	for i in $(seq 20); do echo "file $i" >"$MNT/d/f$i"; done
	sync -f "$MNT"
	sleep 0.5
	kill -INT "$spid"
	wait "$spid" || true
	for i in $(seq 20); do [ "$(cat "$MNT/d/f$i")" = "file $i" ]; done
	# Before: each create read the header it had just written (open,
	# pread, close) and looked the new name up again (openat, stat):
	# 20 preads and 102 opens for these 20 files.
	reads=$(grep -c "pread64(" "$T/trace" || true)
	stats=$(grep -cE '(newfstatat|fstat)\(' "$T/trace" || true)
	opens=$(grep -c 'openat(' "$T/trace" || true)
	echo "# for 20 files: $reads preads, $stats stats, $opens opens" >&3
	[ "$reads" -eq 0 ]
	# Per file: the kernel's lookup of the new name, the hidden name
	# made, the inode's O_PATH descriptor (was 5: also the name looked
	# up again, the header opened to be read, the reopen for O_LARGEFILE).
	# (Stats are not bounded here: the kernel's GETATTRs depend on timing.)
	[ "$opens" -le 80 ]
}

@test "removing a file stats its name once and reads no link (issue 22: rm -rf)" {
	command -v strace >/dev/null || skip "strace missing (scripts/install-deps.sh test)"
	pid=$(pgrep -f "lethefs mount .*$VAULT" | head -n1)
	[ -n "$pid" ]
	mkdir "$MNT/d"
	for i in $(seq 20); do echo "file $i" >"$MNT/d/f$i"; done
	ls -l "$MNT/d" >/dev/null
	strace -f -qq -o "$T/trace" -e trace=readlinkat,newfstatat,unlinkat -p "$pid" &
	spid=$!
	sleep 1
	rm "$MNT"/d/f*
	sleep 0.5
	kill -INT "$spid"
	wait "$spid" || true
	[ -z "$(ls -A "$MNT/d")" ]
	unlinks=$(grep -c 'unlinkat(' "$T/trace" || true)
	links=$(grep -c 'readlinkat(' "$T/trace" || true)
	named=$(grep -cE 'newfstatat\([0-9]+, "[^"]+"' "$T/trace" || true)
	echo "# 20 files removed: $unlinks unlinks, $links readlinks, $named stats by name" >&3
	[ "$unlinks" -eq 20 ]
	# Before: a readlinkat (staging marker?) and an fstatat (long
	# symlink?) per file; the fstatat alone tells a symlink now.
	[ "$links" -eq 0 ]
	[ "$named" -le 20 ]
}
