#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Staging creation, shred and expiry are crash-atomic (docs/FORMAT.md
# 12.7): the daemon is killed (strace's syscall injection, SIGKILL before
# the Nth call of one system call) at each step of each update, the vault
# is mounted again, and every staging directory is either live (key,
# record, tree and marker, data readable) or gone without a trace (no key,
# record, tree, hidden tree or marker); fsck finds nothing.
#
# The calls of a creation by mkdir under staging_root, in order (strace of
# the daemon): mkdirat (hidden tree), fsync 1-2 (its .lethefs.dir),
# renameat 1 (.lethefs.dir), fsync 3-4 + renameat 2 (retention record),
# write 3 + fsync 5-6 (key file), symlinkat (marker), fsync 7,
# renameat2 1 (commit), fsync 8, renameat 3 (index). Of an expiry (the
# control thread): pwrite64 1 (key overwritten), fsync 1, unlinkat 1 (key),
# fsync 2, unlinkat 2 (record), renameat 1 (index), then the tree's
# unlinkat calls. The default run kills at 38 points (about 45 s on a
# loaded machine); LETHEFS_FULL_SWEEP=1 (make test-faults; the older name
# LETHEFS_LONG_FAULTS=1 works too) walks every N from 1 to 12 of each
# system call (about 230 trials).

load helpers

setup() {
	setup_vault
	chmod 755 "$T"
	printf '[staging]\nstaging_root = m\n' >>"$VAULT/lethefs.conf"
	mount_vault
	mkdir "$MNT/m"
	unmount_vault
	TRIALS=0
	CRASHES=0
}
teardown() {
	[ -z "${SP:-}" ] || kill "$SP" 2>/dev/null || true
	force_unmount
	teardown_vault
}

# A killed daemon may linger as a zombie (kill -0 still succeeds).
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

force_unmount() {
	if grep -q " $MNT fuse" /proc/mounts; then
		fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	for _ in $(seq 50); do [ -n "$(daemon_pid)" ] || return 0; sleep 0.1; done
}

# Attaches strace to the daemon, killing it before call N of syscall $1.
arm() { # syscall N
	local pid
	pid=$(daemon_pid)
	strace -f -qq -o /dev/null -p "$pid" -e trace="$1" -e inject="$1":signal=SIGKILL:when="$2" &
	SP=$!
	# Armed once every thread of the daemon is traced (strace -f -p
	# attaches to each in turn).
	for _ in $(seq 100); do
		all_traced "$pid" && break
		sleep 0.05
	done
	DPID=$pid
}

all_traced() { # pid
	local st
	for st in /proc/"$1"/task/*/status; do
		grep -q "^TracerPid:[[:space:]]*[1-9]" "$st" 2>/dev/null || return 1
	done
}

# Ends a trial: detaches strace if the call was never reached, notes
# whether the daemon died, and takes the dead mount away.
disarm() {
	sleep 0.3
	kill "$SP" 2>/dev/null || true
	wait "$SP" 2>/dev/null || true
	SP=
	TRIALS=$((TRIALS + 1))
	if ! alive "$DPID" || ! stat "$MNT" >/dev/null 2>&1; then
		CRASHES=$((CRASHES + 1))
		force_unmount
	else
		unmount_vault
	fi
}

# Every id anything in VAULT/staging carries belongs to a live directory
# that has all its parts and a marker; no marker names another id.
assert_consistent() {
	local markers ids id
	markers=$(find "$VAULT/d" -type l -printf '%l\n' | sed -n 's/^lethefs-staging://p' | sort -u)
	ids=$(ls -A "$VAULT/staging" | grep -v -E '^(index|clock)$' |
		sed -E 's/^\.lethefs\.tmp\.//; s/\.(key|exp)$//; s/^\.([0-9a-f]{8})\..*\.tmp\..*$/\1/' | sort -u)
	if ls -A "$VAULT/staging" | grep -q '^\.lethefs\.tmp\.'; then
		echo "hidden tree left in VAULT/staging" >&2
		return 1
	fi
	for id in $ids; do
		if ! echo "$markers" | grep -qx "$id"; then
			echo "staging $id has parts but no marker: $(ls -A "$VAULT/staging" | grep "$id")" >&2
			return 1
		fi
	done
	for id in $markers; do
		for part in "$id.key" "$id.exp" "$id"; do
			if [ ! -e "$VAULT/staging/$part" ]; then
				echo "marker of $id but no $part" >&2
				return 1
			fi
		done
	done
}

# After a trial: mount (recovery runs), check, use, unmount, fsck.
check_after() { # name-or-empty expected: "live", "gone" or "either"
	mount_vault
	assert_consistent
	local p=$MNT/m/$1
	if [ -e "$p" ]; then
		[ "$2" != gone ] || { echo "$p survived" >&2; return 1; }
		getfattr --only-values -n user.lethefs.id "$p" >/dev/null
		echo "after" >"$p/after"
		[ "$(cat "$p/after")" = after ]
	else
		[ "$2" != live ] || { echo "$p lost" >&2; return 1; }
	fi
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 problem(s)"* ]]
	[[ "$output" != *PENDING* ]]
}

points() { # default points, or 1..12 in the long run
	if [ "${LETHEFS_FULL_SWEEP:-0}" = 1 ] || [ -n "${LETHEFS_LONG_FAULTS:-}" ]; then
		seq 1 12
	else
		echo "$@"
	fi
}

@test "a kill at each step of a creation under staging_root: the directory is live or was never made" {
	local n=0
	for sc in mkdirat fsync renameat write symlinkat renameat2; do
		case $sc in
		mkdirat | symlinkat | renameat2) pts=$(points 1) ;;
		fsync) pts=$(points 1 3 5 7 8) ;;
		renameat) pts=$(points 1 2 3) ;;
		write) pts=$(points 3) ;;
		esac
		for w in $pts; do
			n=$((n + 1))
			mount_vault
			arm "$sc" "$w"
			mkdir "$MNT/m/job$n" 2>/dev/null || true
			disarm
			echo "# create: $sc #$w" >&3
			check_after "job$n" either
		done
	done
	echo "# create: $TRIALS trials, $CRASHES crashes" >&3
	[ "$CRASHES" -ge 8 ]
}

@test "a kill at each step of an expiry: after the next mount the directory is fully shredded" {
	local n=0
	for sc in pwrite64 fsync unlinkat renameat; do
		case $sc in
		pwrite64 | renameat) pts=$(points 1) ;;
		fsync) pts=$(points 1 2) ;;
		unlinkat) pts=$(points 1 2 3) ;;
		esac
		for w in $pts; do
			n=$((n + 1))
			mount_vault
			"$LETHEFS" stage create --ttl 2s "$MNT/m/exp$n" >/dev/null
			expires=$(($(date +%s%N) / 1000000 + 2100))
			echo "expiring-secret-$n" >"$MNT/m/exp$n/f"
			arm "$sc" "$w"
			for _ in $(seq 60); do
				alive "$DPID" || break
				[ -e "$MNT/m/exp$n" ] || break
				sleep 0.1
			done
			disarm
			echo "# expiry: $sc #$w" >&3
			# A kill may come before the expiry (the tick's own writes):
			# by the time of the check the TTL has passed in any case.
			while [ "$(($(date +%s%N) / 1000000))" -lt "$expires" ]; do sleep 0.1; done
			check_after "exp$n" gone
			assert_not_in_backing "expiring-secret-$n"
		done
	done
	echo "# expiry: $TRIALS trials, $CRASHES crashes" >&3
	[ "$CRASHES" -ge 5 ]
}

@test "a kill at each step of a manual shred: live or fully shredded, never half" {
	local n=0
	for sc in renameat pwrite64 fsync unlinkat; do
		case $sc in
		renameat | pwrite64 | unlinkat) pts=$(points 1) ;;
		fsync) pts=$(points 1 3) ;;
		esac
		for w in $pts; do
			n=$((n + 1))
			mount_vault
			"$LETHEFS" stage create --ttl 1h "$MNT/m/sh$n" >/dev/null
			echo data >"$MNT/m/sh$n/f"
			arm "$sc" "$w"
			setfattr -n user.lethefs.ttl -v 0 "$MNT/m/sh$n" 2>/dev/null || true
			for _ in $(seq 30); do
				alive "$DPID" || break
				[ -e "$MNT/m/sh$n" ] || break
				sleep 0.1
			done
			disarm
			echo "# shred: $sc #$w" >&3
			check_after "sh$n" either
		done
	done
	echo "# shred: $TRIALS trials, $CRASHES crashes" >&3
	[ "$CRASHES" -ge 4 ]
}

# The calls of an adoption: write 1 + fsync 1 + renameat 1 + fsync 2
# (retention record), write 2 + fsync 3-4 (key file), write 3 + fsync 5
# (its .lethefs.dir under the pending name), symlinkat 1 + fsync 6 (the
# marker at VAULT/staging/ID), renameat2 1 (the exchange: commit), fsync
# 7-8, renameat 2 (the pending .lethefs.dir into place), fsync 9, renameat
# 3 (index).
@test "a kill at each step of adopting an empty directory: staging, or plain as it was; never gone, never half" {
	local n=0
	for sc in renameat2 renameat symlinkat fsync write; do
		case $sc in
		renameat2) pts=$(points 1) ;;
		renameat) pts=$(points 1 2 3) ;;
		symlinkat) pts=$(points 1) ;;
		fsync) pts=$(points 2 4 5 6 7 8 9) ;;
		write) pts=$(points 2 3) ;;
		esac
		for w in $pts; do
			n=$((n + 1))
			mount_vault
			mkdir "$MNT/plain$n"
			mode=$(stat -c %a "$MNT/plain$n")
			arm "$sc" "$w"
			setfattr -n user.lethefs.ttl -v 1h "$MNT/plain$n" 2>/dev/null || true
			disarm
			echo "# adopt: $sc #$w" >&3
			mount_vault
			assert_consistent
			# Staging, or untouched (the mode it was made with): never gone.
			[ -d "$MNT/plain$n" ] || { echo "plain$n lost" >&2; return 1; }
			getfattr --only-values -n user.lethefs.id "$MNT/plain$n" >/dev/null 2>&1 ||
				[ "$(stat -c %a "$MNT/plain$n")" = "$mode" ]
			echo ok >"$MNT/plain$n/f"
			[ "$(cat "$MNT/plain$n/f")" = ok ]
			unmount_vault
			run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
			echo "$output"
			[ "$status" -eq 0 ]
		done
	done
	echo "# adopt: $TRIALS trials, $CRASHES crashes" >&3
	[ "$CRASHES" -ge 4 ]
}

# The backing-store writer plants what an interrupted adoption leaves
# (docs/FORMAT.md 12.7): a marker (or any non-directory) at
# VAULT/staging/ID, and a pending .lethefs.dir in a staging tree. Recovery
# removes the planted entries themselves, never follows them, and never
# puts a pending file over a directory's .lethefs.dir of its own id.
@test "attack: planted adoption leftovers never make recovery touch anything else" {
	mount_vault
	mkdir "$MNT/keep"
	echo kept >"$MNT/keep/f"
	mkdir "$MNT/job"
	setfattr -n user.lethefs.ttl -v 1h "$MNT/job"
	echo staged >"$MNT/job/f"
	local id
	id=$(getfattr --only-values -n user.lethefs.id "$MNT/job")
	unmount_vault
	mkdir "$T/outside"
	echo precious >"$T/outside/p"
	# Placeholders: a symlink to a directory outside the vault, one to the
	# data tree (with a key file beside it), a plain file.
	ln -s "$T/outside" "$VAULT/staging/8abcdef1"
	ln -s "$VAULT/d" "$VAULT/staging/8abcdef2"
	cp "$VAULT/staging/$id.key" "$VAULT/staging/8abcdef2.key"
	echo junk >"$VAULT/staging/8abcdef3"
	# In the live tree: a pending .lethefs.dir of its own id but another
	# directory id (put in place, its names would no longer decrypt).
	local tree=$VAULT/staging/$id
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[20]^=1; open(sys.argv[2],"wb").write(b)' \
		"$tree/.lethefs.dir" "$tree/.lethefs.tmp.staging"
	local before
	before=$(sha256sum <"$tree/.lethefs.dir")
	mount_vault
	[ "$(cat "$MNT/job/f")" = staged ]
	[ "$(cat "$MNT/keep/f")" = kept ]
	unmount_vault
	[ "$(cat "$T/outside/p")" = precious ]
	[ "$(sha256sum <"$tree/.lethefs.dir")" = "$before" ]
	for p in 8abcdef1 8abcdef2 8abcdef2.key 8abcdef3 "$id/.lethefs.tmp.staging"; do
		if [ -e "$VAULT/staging/$p" ] || [ -L "$VAULT/staging/$p" ]; then
			echo "planted $p left in place" >&2
			return 1
		fi
	done
	# A pending file that is a symlink (to a file outside) goes too, and
	# what it names stays.
	ln -s "$T/outside/p" "$tree/.lethefs.tmp.staging"
	mount_vault
	[ "$(cat "$MNT/job/f")" = staged ]
	unmount_vault
	[ ! -L "$tree/.lethefs.tmp.staging" ]
	[ "$(cat "$T/outside/p")" = precious ]
	[ "$(sha256sum <"$tree/.lethefs.dir")" = "$before" ]
	# A FIFO there never makes the mount wait for a writer.
	mkfifo "$tree/.lethefs.tmp.staging"
	timeout 20 "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$(cat "$MNT/job/f")" = staged ]
	unmount_vault
	[ ! -p "$tree/.lethefs.tmp.staging" ]
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}
