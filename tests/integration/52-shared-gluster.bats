#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# One vault on a GlusterFS replica-2 volume, mounted by two hosts at once
# (-o shared; docs/SHARED.md): names, contents and attributes seen by both
# hosts, writes from both at once, a host refused without -o shared, and
# faults (a daemon killed mid-write or after each write of an append, a
# brick killed). The engine, the hosts and the vault are set up by
# tests/integration/gluster.bash; each host is a mount namespace of its
# own with its own host name, /run/lethefs and GlusterFS client. Rotation,
# staging and the audit logs: 52-shared-gluster-rotation-staging-audit.bats.

load helpers
load gluster

setup_file() { gluster_vault_setup_file; }
teardown_file() { gluster_vault_teardown_file; }
setup() { gluster_vault_setup; }
teardown() { gluster_vault_teardown; }

# mount_logged HOST [OPTIONS...]: as mount_on, but the daemon stays in the
# foreground and its log (stderr: the namespaces have no syslog) goes to
# $G/daemon-HOST.log, each line stamped with the time.
mount_logged() {
	local h=$1 pid
	shift
	if [ -n "${LETHEFS_GLUSTER_DAEMONIZED:-}" ]; then
		mount_on "$h" "$@"
		return
	fi
	on_host "$h" "$LETHEFS" mount -f --passfile "$G/pass" "$@" "$G/m$h/vault" "$G/l$h" \
		2> >(while IFS= read -r l; do echo "$EPOCHREALTIME $h $l"; done >>"$G/daemon-$h.log") \
		>/dev/null 3>&- &
	pid=$!
	for _ in $(seq 300); do
		on_host "$h" grep -q " $G/l$h fuse" /proc/self/mounts && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$G/daemon-$h.log" >&2
	return 1
}

# With LETHEFS_GLUSTER_KEEP set, copies what a test left for a post-mortem
# (both bricks' vaults, the daemons' logs, the passphrase) to a directory
# named $1 there (tests/tools/block_probe decodes a backing file).
keep_evidence() {
	[ -n "${LETHEFS_GLUSTER_KEEP:-}" ] || return 0
	local k
	k=$LETHEFS_GLUSTER_KEEP/$(date +%H%M%S)-$1
	mkdir -p "$k"
	cp -a "$G/b1/vault" "$k/b1-vault"
	cp -a "$G/b2/vault" "$k/b2-vault"
	cp "$G/pass" "$k/"
	cp "$G"/daemon-*.log "$k/" 2>/dev/null || true
	echo "evidence kept in $k" >&2
}

# Investigation aid: every change of size or mtime of a large backing file
# on either brick, stamped, into $G/bricks.log until $G/stop-watch exists.
watch_bricks() {
	local prev= cur i
	for ((i = 0; i < 2000; i++)); do
		[ -e "$G/stop-watch" ] && break
		cur=$(find "$G/b1/vault/d" "$G/b2/vault/d" -type f -size +1M -printf '%p %s %T@\n' 2>/dev/null | sort)
		[ "$cur" != "$prev" ] && diff <(echo "$prev") <(echo "$cur") | grep '^>' | sed "s/^>/$EPOCHREALTIME brick/" >>"$G/bricks.log"
		prev=$cur
		sleep 0.1
	done
}

@test "shared: files and directories made on one host are seen on the other, both ways" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	on_host hostA mkdir -p "$G/lhostA/lab/2026"
	on_host hostA sh -c "echo 'patient 4711: HbA1c 5.9' >$G/lhostA/lab/2026/r1.txt"
	run on_host hostB cat "$G/lhostB/lab/2026/r1.txt"
	[ "$status" -eq 0 ]
	[ "$output" = "patient 4711: HbA1c 5.9" ]
	on_host hostB sh -c "echo from-b >$G/lhostB/lab/b.txt && mkdir $G/lhostB/lab/bdir"
	run on_host hostA cat "$G/lhostA/lab/b.txt"
	[ "$output" = from-b ]
	on_host hostA test -d "$G/lhostA/lab/bdir"
	# No plaintext name or content in the bricks.
	! grep -rqa "patient 4711" "$G/b1" "$G/b2" || false
	! find "$G/b1" "$G/b2" -name 'r1.txt' -o -name lab | grep -q . || false
}

@test "shared: mkdir, rename, rmdir and link from both hosts (no RENAME_NOREPLACE on GlusterFS)" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	run on_host hostA "$LETHEFS" status --json "$G/lhostA"
	[[ "$output" == *'"backing_missing":"rename_noreplace'* ]]
	on_host hostA mkdir "$G/lhostA/d1"
	run on_host hostB mkdir "$G/lhostB/d1"
	[ "$status" -ne 0 ]
	[[ "$output" == *"File exists"* ]]
	on_host hostB sh -c "echo x >$G/lhostB/d1/f && mv $G/lhostB/d1 $G/lhostB/d2"
	on_host hostA test -f "$G/lhostA/d2/f"
	! on_host hostA test -e "$G/lhostA/d1" || false
	on_host hostA ln "$G/lhostA/d2/f" "$G/lhostA/d2/g"
	run on_host hostB stat -c %h "$G/lhostB/d2/f"
	[ "$output" = 2 ]
	# rename(2) with RENAME_NOREPLACE (mv --no-clobber... through renameat2).
	on_host hostB sh -c "echo y >$G/lhostB/d2/h"
	run on_host hostA python3 -c "
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]
r = libc.renameat2(-100, (d + '/h').encode(), -100, (d + '/f').encode(), 1)
print(r, os.strerror(ctypes.get_errno()))
r = libc.renameat2(-100, (d + '/h').encode(), -100, (d + '/new').encode(), 1)
print(r)" "$G/lhostA/d2"
	[ "${lines[0]}" = "-1 File exists" ]
	[ "${lines[1]}" = 0 ]
	run on_host hostB cat "$G/lhostB/d2/new"
	[ "$output" = y ]
	! on_host hostB test -e "$G/lhostB/d2/h" || false
	on_host hostA rm "$G/lhostA/d2/f" "$G/lhostA/d2/g" "$G/lhostA/d2/new"
	on_host hostB rmdir "$G/lhostB/d2"
	! on_host hostA test -e "$G/lhostA/d2" || false
	run on_host hostA ls -A "$G/lhostA"
	[[ "$output" != *d2* ]]
}

@test "shared: a directory renamed onto an empty one (POSIX replaces it) without RENAME_NOREPLACE" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	on_host hostA sh -c "mkdir -p $G/lhostA/rd/src $G/lhostA/rd/empty && echo z >$G/lhostA/rd/src/f"
	on_host hostB python3 -c "import os, sys; os.rename(sys.argv[1] + '/src', sys.argv[1] + '/empty')" \
		"$G/lhostB/rd"
	run on_host hostA cat "$G/lhostA/rd/empty/f"
	[ "$output" = z ]
	! on_host hostA test -e "$G/lhostA/rd/src" || false
	# Nothing hidden left in the backing directory (the replaced target).
	[ -z "$(find "$G/b1/vault/d" -name '.lethefs.tmp.*')" ]
	on_host hostA rm -r "$G/lhostA/rd"
}

@test "a second host without -o shared is refused, naming the holder" {
	mount_on hostA
	run mount_on hostB
	[ "$status" -eq 7 ]
	[[ "$output" == *"already mounted: in use by host hostA (pid "*", since "*", exclusive)"* ]]
	run mount_on hostB -o shared
	[ "$status" -eq 7 ]
	[[ "$output" == *"host hostA"* ]]
	on_host hostA umount "$G/lhostA"
	mount_on hostA -o shared
	run mount_on hostB
	[ "$status" -eq 7 ]
	[[ "$output" == *"in use by host hostA (pid "*", shared)"* ]]
	run on_host hostB "$LETHEFS" info --backing "$G/mhostB/vault"
	[[ "$output" == *"hostA: live"* ]]
	[[ "$output" == *"fuse.glusterfs"* ]]
}

@test "shared: two hosts write disjoint ranges of one file at once (shared blocks), nothing lost" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	W=$BATS_TEST_DIRNAME/shared_writer.py
	on_host hostA touch "$G/lhostA/shared.bin"
	on_host hostA python3 "$W" write "$G/lhostA/shared.bin" 0 600 1000 &
	a=$!
	on_host hostB python3 "$W" write "$G/lhostB/shared.bin" 1 600 1000 &
	b=$!
	wait $a
	wait $b
	run on_host hostA python3 "$W" check "$G/lhostA/shared.bin" 600 1000
	echo "$output"
	[ "$status" -eq 0 ]
	run on_host hostB python3 "$W" check "$G/lhostB/shared.bin" 600 1000
	echo "$output"
	[ "$status" -eq 0 ]
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
	run on_host hostA "$LETHEFS" fsck --passfile "$G/pass" "$G/mhostA/vault"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "shared: two hosts append to one file at once, large sub-block-misaligned chunks, nothing lost" {
	# Each append re-seals the file's old last block (the other host's,
	# often) in the same write as its new blocks (fs/fileio_tail.c): the
	# length's lock must order them, and every chunk must survive.
	mount_on hostA -o shared
	mount_on hostB -o shared
	W=$BATS_TEST_DIRNAME/shared_writer.py
	on_host hostA touch "$G/lhostA/appends.bin"
	on_host hostA python3 "$W" write "$G/lhostA/appends.bin" 0 60 70001 ascending &
	a=$!
	on_host hostB python3 "$W" write "$G/lhostB/appends.bin" 1 60 70001 ascending &
	b=$!
	wait $a
	wait $b
	for h in hostA hostB; do
		run on_host $h python3 "$W" check "$G/l$h/appends.bin" 60 70001
		echo "$output"
		[ "$status" -eq 0 ]
	done
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
	run on_host hostA "$LETHEFS" fsck --passfile "$G/pass" "$G/mhostA/vault"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "shared: a size or time changed on one host is what the other's stat shows at once" {
	# A lookup takes the attributes its backing open just fetched from the
	# engine (fs/ops_entry.c, AT_STATX_DONT_SYNC): never older ones.
	mount_on hostA -o shared
	mount_on hostB -o shared
	on_host hostA mkdir -p "$G/lhostA/fresh"
	for i in $(seq 25); do
		on_host hostA sh -c "head -c $((i * 997 + 13)) /dev/zero >$G/lhostA/fresh/f &&
			touch -m -d @$((1700000000 + i)) $G/lhostA/fresh/f"
		got=$(on_host hostB stat -c '%s %Y' "$G/lhostB/fresh/f")
		[ "$got" = "$((i * 997 + 13)) $((1700000000 + i))" ] ||
			{ echo "round $i: hostB sees $got"; false; }
	done
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
}

@test "shared: a chmod or chown on one host is what the other shows, also while it holds the file open for writing" {
	# Host B reads a record whose change time moved again through its open
	# writer's descriptor when it has one (fs/attr.c, read_head): on the
	# engine (direct I/O, client caches off) that read must see host A's
	# rewritten header as an open of its own would.
	mount_on hostA -o shared
	mount_on hostB -o shared
	A=$G/lhostA B=$G/lhostB
	on_host hostA sh -c "echo secret >$A/f && chmod 644 $A/f"
	for mode in 600 640; do
		on_host hostA chmod $mode "$A/f"
		run on_host hostB stat -c %a "$B/f"
		[ "$output" = $mode ] || { echo "no writer: hostB sees $output after $mode"; false; }
	done
	on_host hostB python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"more\n")
open(sys.argv[2], "w").write("%d\n" % os.getpid())
time.sleep(60)' "$B/f" "$G/held" &
	holder=$!
	wait_for_file "$G/held"
	sleep 0.2
	for mode in 600 640 444 604; do
		on_host hostA chmod $mode "$A/f"
		run on_host hostB stat -c %a "$B/f"
		[ "$output" = $mode ] || { echo "writer open: hostB sees $output after $mode"; false; }
	done
	on_host hostA chown 65534:65534 "$A/f"
	run on_host hostB stat -c %u:%g "$B/f"
	[ "$output" = 65534:65534 ]
	kill "$(cat "$G/held")"
	wait $holder || true
	run on_host hostA cat "$A/f"
	[ "$output" = "$(printf 'secret\nmore')" ]
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
}

@test "shared: kill -9 of one host's daemon mid-write leaves the other working, its journal recovered, fsck clean" {
	mount_logged hostA -o shared
	mount_logged hostB -o shared
	head -c 2000000 /dev/urandom >"$G/data"
	on_host hostA cp "$G/data" "$G/lhostA/a-before"
	rm -f "$G/stop-watch"
	watch_bricks 3>&- &
	on_host hostB sh -c "dd if=/dev/urandom of=$G/lhostB/b-inflight bs=64k count=2000 status=none" &
	writer=$!
	sleep 2
	pkill -9 -f "lethefs mount .*$G/mhostB/vault"
	echo "$EPOCHREALTIME hostB killed" >>"$G/daemon-hostB.log"
	wait "$writer" || true
	# hostA goes on: writes, reads, names.
	on_host hostA cp "$G/data" "$G/lhostA/a-after"
	on_host hostA mkdir "$G/lhostA/after-dir"
	on_host hostA cmp "$G/data" "$G/lhostA/a-before"
	on_host hostA cmp "$G/data" "$G/lhostA/a-after"
	# hostB's lease lapsed at once; hostA recovers its journal (every 2 s).
	run on_host hostA "$LETHEFS" info --backing "$G/mhostA/vault"
	[[ "$output" == *"hostB: lapsed"* ]]
	[[ "$output" == *"hostA: live"* ]]
	# Until then a block hostB's write left torn may not authenticate;
	# on a loaded machine the lapse and the scan take a few seconds.
	read_ok=
	for _ in $(seq 60); do
		if on_host hostA cat "$G/lhostA/b-inflight" >/dev/null 2>&1; then
			read_ok=1
			break
		fi
		sleep 0.5
	done
	echo "$EPOCHREALTIME test: read ok: ${read_ok:-no}" >>"$G/daemon-hostA.log"
	touch "$G/stop-watch"
	cp "$G/bricks.log" "$G/daemon-bricks.log"
	[ -n "$read_ok" ] || keep_evidence kill-read
	[ -z "${LETHEFS_GLUSTER_KEEP:-}" ] || cat "$G"/daemon-*.log | sort -n >"$LETHEFS_GLUSTER_KEEP/log-$(date +%H%M%S)"
	cat "$G"/daemon-*.log | sort -n | tail -n 80
	[ -n "$read_ok" ]
	on_host hostA stat "$G/lhostA/b-inflight" >/dev/null
	on_host hostB sh -c "fusermount3 -u $G/lhostB || umount -l $G/lhostB"
	on_host hostA umount "$G/lhostA"
	run on_host hostA "$LETHEFS" fsck --passfile "$G/pass" "$G/mhostA/vault"
	echo "$output"
	[ "$status" -eq 0 ] || keep_evidence kill-fsck
	[ "$status" -eq 0 ]
	[[ "$output" != *pending* ]]
	# hostB comes back.
	mount_on hostB -o shared
	on_host hostB cmp "$G/data" "$G/lhostB/a-after"
}

# The daemon of hostB dies (_exit, as a kill -9 does: no cleanup) right
# after the Nth write into the vault once $G/arm exists (the fault shim of
# tests/fault), i.e. at a chosen step of a tail update: 1 after its journal
# record, 2 after the new blocks, 3 after the re-sealed old last block
# (the pivot), 4 after the record's clear. The kill test above lands in
# these windows only by chance.
@test "shared: hostB dies after each write of an append; hostA recovers the file whole (old or new end), fsck clean" {
	SHIM=$(dirname "$LETHEFS")/tests/fault/faultshim.so
	[ -f "$SHIM" ] || skip "no fault shim at $SHIM (make)"
	mount_logged hostA -o shared
	head -c 1048576 /dev/urandom >"$G/old"
	head -c 65536 /dev/urandom >"$G/more"
	cat "$G/old" "$G/more" >"$G/new"
	# An append of whole blocks to a file ending on a block boundary takes
	# three writes (the record; the re-sealed old last block with the new
	# blocks, fs/fileio_tail.c; the record's clearing): a crash after each,
	# then a step past the last one, where the append just succeeds.
	for n in 1 2 3 4; do
		rm -f "$G/arm"
		on_host hostB env LD_PRELOAD="$SHIM" LFS_FAULT_VAULT="$G/mhostB/vault" LFS_FAULT_ARM="$G/arm" \
			LFS_FAULT_LOG="$G/fault-step$n.log" LFS_FAULT_KINDS=write LFS_FAULT_AT=$n LFS_FAULT_MODE=crash-after \
			"$LETHEFS" mount --passfile "$G/pass" -o shared "$G/mhostB/vault" "$G/lhostB"
		on_host hostB cp "$G/old" "$G/lhostB/step$n"
		touch "$G/arm"
		run on_host hostB sh -c "cat $G/more >>$G/lhostB/step$n"
		echo "step $n: append: $status $output"
		cat "$G/fault-step$n.log" || true
		if ! grep -q crash-after "$G/fault-step$n.log"; then
			# Past the update's last write: nothing crashed.
			[ "$n" -eq 4 ]
			[ "$status" -eq 0 ]
			on_host hostB cmp "$G/new" "$G/lhostB/step$n"
			on_host hostB umount "$G/lhostB"
			on_host hostA cmp "$G/new" "$G/lhostA/step$n"
			break
		fi
		# The daemon is gone: its lease lapses, hostA recovers its journal.
		for _ in $(seq 100); do
			pgrep -f "lethefs mount .*$G/mhostB/vault" >/dev/null || break
			sleep 0.1
		done
		! pgrep -f "lethefs mount .*$G/mhostB/vault" || false
		on_host hostB sh -c "fusermount3 -u $G/lhostB || umount -l $G/lhostB"
		whole=
		for _ in $(seq 60); do
			if on_host hostA cmp -s "$G/old" "$G/lhostA/step$n" ||
				on_host hostA cmp -s "$G/new" "$G/lhostA/step$n"; then
				whole=1
				break
			fi
			sleep 0.5
		done
		echo "step $n: $(on_host hostA stat -c %s "$G/lhostA/step$n") bytes on hostA, whole: ${whole:-no}"
		[ -n "$whole" ] || keep_evidence "step$n"
		[ -n "$whole" ]
	done
	cat "$G"/daemon-*.log | sort -n | tail -n 40
	on_host hostA umount "$G/lhostA"
	run on_host hostA "$LETHEFS" fsck --passfile "$G/pass" "$G/mhostA/vault"
	echo "$output"
	[ "$status" -eq 0 ] || keep_evidence steps-fsck
	[ "$status" -eq 0 ]
	[[ "$output" != *pending* ]]
}

# The pid of brick $1 (b1 or b2) of the volume, or nothing.
brick_pid() {
	pgrep -f -- "--brick-name $G/$1 " | head -n1
}

@test "shared: a brick killed during writes: the replica keeps serving both hosts, nothing lost, healed, fsck clean" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	head -c 8000000 /dev/urandom >"$G/big"
	on_host hostA mkdir "$G/lhostA/w"
	on_host hostA cp "$G/big" "$G/lhostA/w/before"
	# hostA writes files of 1.25 MB, each fsync'd, each a different slice
	# of $G/big, and records each one done; hostB appends lines.
	rm -f "$G/stop"
	on_host hostA sh -c "i=0; while [ ! -e $G/stop ]; do i=\$((i + 1));
		dd if=$G/big of=$G/lhostA/w/f\$i bs=64k skip=\$((i % 100)) count=20 conv=fsync \
			status=none || exit 1; echo \$i >$G/wroteA; done" &
	wa=$!
	on_host hostB sh -c "i=0; while [ ! -e $G/stop ]; do i=\$((i + 1));
		echo line \$i >>$G/lhostB/w/log || exit 1; echo \$i >$G/wroteB; sleep 0.05; done" &
	wb=$!
	sleep 2
	# The second brick. The volume has GlusterFS's default client quorum
	# for replica 2 (cluster.quorum-type none): writes go on with either
	# brick; with quorum "auto" only while the first lives (docs/SHARED.md).
	pid=$(brick_pid b2)
	[ -n "$pid" ]
	kill -9 "$pid"
	echo "brick b2 ($pid) killed after $(cat "$G/wroteA") files"
	killed_at=$(cat "$G/wroteA")
	sleep 6
	touch "$G/stop"
	wait "$wa"
	wait "$wb"
	nA=$(cat "$G/wroteA")
	nB=$(cat "$G/wroteB")
	echo "hostA wrote $nA files, hostB $nB lines"
	[ "$nA" -gt "$killed_at" ]
	[ -z "$(brick_pid b2)" ]
	# Nothing lost, on either host, while the brick is down.
	for h in hostA hostB; do
		on_host $h cmp "$G/big" "$G/l$h/w/before"
		for i in $(seq "$nA"); do
			dd if="$G/big" bs=64k skip=$((i % 100)) count=20 status=none |
				on_host $h cmp - "$G/l$h/w/f$i"
		done
		lines=$(on_host $h sh -c "wc -l <$G/l$h/w/log")
		[ "$lines" -eq "$nB" ] || [ "$lines" -eq $((nB + 1)) ]
	done
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
	# The brick comes back and is healed from the other.
	gluster --mode=script volume start "$GVOL" force >/dev/null
	for _ in $(seq 100); do
		[ -n "$(brick_pid b2)" ] && break
		sleep 0.2
	done
	[ -n "$(brick_pid b2)" ]
	gluster --mode=script volume heal "$GVOL" >/dev/null || true
	healed=
	for _ in $(seq 120); do
		info=$(gluster --mode=script volume heal "$GVOL" info 2>&1)
		if ! grep -q 'Number of entries: [1-9]' <<<"$info" && [ "$(grep -c 'Number of entries: 0' <<<"$info")" -eq 2 ]; then
			healed=1
			break
		fi
		sleep 1
	done
	echo "$info"
	[ -n "$healed" ]
	# Both bricks hold the same vault, byte for byte.
	[ "$(cd "$G/b1" && find vault -type f -print0 | sort -z | xargs -0 sha256sum)" = \
		"$(cd "$G/b2" && find vault -type f -print0 | sort -z | xargs -0 sha256sum)" ]
	run on_host hostA "$LETHEFS" fsck --passfile "$G/pass" "$G/mhostA/vault"
	echo "$output"
	[ "$status" -eq 0 ]
	mount_on hostB -o shared
	on_host hostB cmp "$G/big" "$G/lhostB/w/before"
	dd if="$G/big" bs=64k skip=$((nA % 100)) count=20 status=none | on_host hostB cmp - "$G/lhostB/w/f$nA"
	on_host hostB rm -r "$G/lhostB/w"
}
