#!/usr/bin/env bats
# Crash and full-disk safety (issue 12, docs/TESTING.md): the fault-injection
# shim itself, a representative part of the sweep (tests/fault/sweep.py) and
# of the random kills (tests/fault/kills.py), and a genuinely full tmpfs.
# `make test-faults` runs everything.
#
# Each case that fails on today's code is a test of its own below, starting
# with `skip "fails until the crash-safety rewrite: ..."`: delete that line
# when its fix lands. tests/fault/KNOWN-FAILURES.md has the details.

load helpers

FAULT=$BATS_TEST_DIRNAME/../fault
BUILD=$(dirname "$LETHEFS")
SHIM=$BUILD/tests/fault/faultshim.so

setup() {
	[ -e "$SHIM" ] || skip "fault shim not built ($SHIM): run make test"
}

teardown() {
	[ -n "${T:-}" ] || return 0
	unmount_vault || true
	[ -z "${SMALL:-}" ] || umount "$SMALL"
	if mountpoint -q "$MNT" 2>/dev/null; then
		echo "mount left behind at $MNT" >&2
		return 1
	fi
	rm -rf "$T"
}

# The sweep over operations/modes/call numbers; fails with its report.
sweep() {
	run python3 "$FAULT/sweep.py" --build "$BUILD" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
}

kills() {
	run python3 "$FAULT/kills.py" --build "$BUILD" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
}

# Mounts $VAULT with the shim; the remaining arguments are VAR=value pairs.
# Returns once the daemon answers its control socket, which it starts after
# writing the mount's audit entry (so that arming next counts none of it).
mount_shim() {
	env LD_PRELOAD="$SHIM" LFS_FAULT_VAULT="$VAULT" LFS_FAULT_ARM="$T/armed" \
		LFS_FAULT_LOG="$T/calls.log" "$@" \
		"$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	"$LETHEFS" status "$MNT" >/dev/null
}

# After the shim made the daemon _exit: waits for it and removes the mount.
reap() {
	for _ in $(seq 50); do
		pgrep -f "lethefs mount .*$VAULT" >/dev/null || break
		sleep 0.1
	done
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
}

# --- the shim -----------------------------------------------------------------

@test "shim: counts only armed calls on the vault, with kind and backing path" {
	setup_vault
	mount_shim
	echo before >"$MNT/unarmed"
	sync "$MNT/unarmed"
	[ ! -s "$T/calls.log" ] || { cat "$T/calls.log"; false; }
	touch "$T/armed"
	mkdir "$MNT/d"
	rm "$T/armed"
	echo after >"$MNT/unarmed2"
	sync "$MNT/unarmed2"
	cat "$T/calls.log"
	# Numbered from 1 in order, all in the vault's tree; mkdir builds the
	# directory under a temporary name, then renames it into place.
	[ "$(cut -f2 "$T/calls.log" | tr '\n' ' ')" = "$(seq -s ' ' "$(wc -l <"$T/calls.log")") " ]
	grep -q $'\tmkdir\tmkdirat\td/.lethefs.tmp.' "$T/calls.log"
	grep -q $'\trename\trenameat2\td/.lethefs.tmp.[0-9a-f]*\t-> d/' "$T/calls.log"
	[ -z "$(grep -v $'\td/' "$T/calls.log")" ]
}

@test "shim: crash-before kills the daemon without the call, crash-after after it" {
	setup_vault
	mount_shim LFS_FAULT_MODE=crash-before LFS_FAULT_AT=1
	touch "$T/armed"
	run mkdir "$MNT/d"
	[ "$status" -ne 0 ]
	reap
	grep -q $'\tmkdirat\t.*\tcrash-before$' "$T/calls.log"
	[ -z "$(find "$VAULT/d" -name '.lethefs.tmp.*')" ]
	rm "$T/calls.log" "$T/armed"
	mount_shim LFS_FAULT_MODE=crash-after LFS_FAULT_AT=1
	touch "$T/armed"
	run mkdir "$MNT/d"
	[ "$status" -ne 0 ]
	reap
	grep -q $'\tmkdirat\t.*\tcrash-after(ok)$' "$T/calls.log"
	[ -n "$(find "$VAULT/d" -name '.lethefs.tmp.*')" ]
	rm "$T/armed"
	mount_vault
	[ ! -e "$MNT/d" ]
}

@test "shim: an injected ENOSPC reaches the caller and the daemon keeps serving" {
	setup_vault
	mount_shim LFS_FAULT_MODE=fail-once LFS_FAULT_AT=1 LFS_FAULT_KINDS=mkdir
	touch "$T/armed"
	run mkdir "$MNT/d"
	[ "$status" -ne 0 ]
	[[ "$output" == *"No space left on device"* ]]
	mkdir "$MNT/d"
	rm "$T/armed"
	[ -d "$MNT/d" ]
	grep -q $'\tinject=ENOSPC$' "$T/calls.log"
}

# --- the sweep: what holds today ---------------------------------------------------

@test "sweep: mkdir, rename over a file, link, symlink, long-name unlink at every call" {
	sweep --ops mkdir,rename-over,link,symlink,longname-unlink \
		--modes crash-before,crash-after,enospc,eio
}

@test "sweep: create + first write and xattr replacement at every call, on a full tmpfs" {
	sweep --ops create-write,setxattr-replace --modes crash-after,enospc-short,eio,fullfs
}

@test "sweep: passwd at every call (crash, EIO)" {
	sweep --ops passwd --modes crash-after,eio
}

@test "sweep: staging expiry interrupted by crashes" {
	sweep --ops stage-expire --modes crash-after --max-n 8
}

@test "kill -9 under append+fsync of numbered records loses no fsync'd record" {
	kills --workloads append --rounds 3 --seed 1
}

# --- known failures of today's code (issue 12) ---------------------------------------
# One test per case; the sweep arguments reproduce it exactly.

@test "full tmpfs: a failed append keeps the old last block (issue 12)" {
	skip "fails until the crash-safety rewrite: ENOSPC append to a 50,004-byte file on a full tmpfs leaves it unreadable from 49,152"
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	SMALL=$T/small
	mkdir -p "$SMALL" "$T/mnt"
	mount -t tmpfs -o size=8m tmpfs "$SMALL"
	VAULT=$SMALL/vault MNT=$T/mnt
	printf '%s\n' "$PASS" >"$T/pass"
	"$LETHEFS" init --passfile "$T/pass" "${KDF[@]}" "$VAULT" >/dev/null
	mount_vault
	head -c 50004 /dev/urandom >"$T/old"
	cp "$T/old" "$MNT/f"
	sync "$MNT/f"
	head -c 8000000 /dev/zero >"$SMALL/filler" 2>/dev/null || true
	run sh -c "head -c 50000 /dev/urandom >>'$MNT/f' && sync '$MNT/f'"
	[ "$status" -ne 0 ]
	rm -f "$SMALL/filler"
	unmount_vault
	mount_vault
	cmp <(head -c 50004 "$MNT/f") "$T/old"
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "known: ENOSPC in the middle of an append (shim) keeps the old last block" {
	skip "fails until the crash-safety rewrite: append-unaligned enospc-short N=1 (torn re-seal of the last block: EIO from 49,152)"
	sweep --ops append-unaligned,append-in-block,write-cross-last-block --modes enospc-short,fullfs
}

@test "known: crash between the two writes of a block-aligned append" {
	skip "fails until the crash-safety rewrite: append-aligned crash-after N=1 / crash-before N=2 (old last block re-sealed non-final, new blocks not written: EIO from 4,096)"
	sweep --ops append-aligned --modes crash-before,crash-after
}

@test "known: EIO on the second write of a growing write is not undone" {
	skip "fails until the crash-safety rewrite: append-aligned eio N=2 (write_locked does not restore the tail on EIO: EIO from 4,096)"
	sweep --ops append-aligned --modes eio
}

@test "known: crash inside a growing write with a small gap (sealed zeros)" {
	skip "fails until the crash-safety rewrite: write-gap-small crash-after N=1-4 (EIO at the old last block, or a file extended by zeros)"
	sweep --ops write-gap-small --modes crash-before,crash-after,enospc-short,eio,fullfs
}

@test "known: crash inside the SPARSE transition (write 10 MiB past the end)" {
	skip "fails until the crash-safety rewrite: write-gap-large crash-after N=1-5 (EIO at 4,096 or at the new last block)"
	sweep --ops write-gap-large --modes crash-before,crash-after,enospc-short,eio,fullfs
}

@test "known: crash between the re-seal and the ftruncate of a shrinking truncate" {
	skip "fails until the crash-safety rewrite: truncate-shrink-unaligned/aligned crash-after N=1 (block 7 re-sealed final, file not cut: EIO from 28,672)"
	sweep --ops truncate-shrink-unaligned,truncate-shrink-aligned --modes crash-before,crash-after,eio
}

@test "known: EIO after truncating to zero is reported but the file is gone" {
	skip "fails until the crash-safety rewrite: truncate-zero eio N=2 (utimensat fails after ftruncate(0): ftruncate reports EIO, the live mount shows 50,004 bytes of other content)"
	sweep --ops truncate-zero --modes eio
}

@test "known: crash or full disk in an extending truncate" {
	skip "fails until the crash-safety rewrite: truncate-extend(-large) crash-after N=1-3, enospc N=2-3 (EIO at 4,096 or at the new last block)"
	sweep --ops truncate-extend,truncate-extend-large --modes crash-before,crash-after,enospc,enospc-short,eio,fullfs
}

@test "known: crash or full disk in fallocate" {
	skip "fails until the crash-safety rewrite: fallocate crash-after N=1-2, enospc N=2-3, fullfs N=1-7 (EIO at 4,096 or at block 7)"
	sweep --ops fallocate --modes crash-before,crash-after,enospc,enospc-short,eio,fullfs
}

@test "known: crash inside rmdir (metadata removed first)" {
	skip "fails until the crash-safety rewrite: rmdir crash-after N=1 (.lethefs.dir unlinked, directory kept: listing EIO, fsck CORRUPT)"
	sweep --ops rmdir --modes crash-before,crash-after
}

@test "known: a crash while adopting a directory as staging loses the directory" {
	skip "fails until the crash-safety rewrite: stage-adopt crash-after N=18-23 (directory moved to staging/ID, marker not yet written: /job disappears)"
	sweep --ops stage-adopt --modes crash-before,crash-after,enospc,eio
}

@test "known: kill -9 during rotate leaves a vault that segfaults at mount (issue 12)" {
	skip "fails until the crash-safety rewrite: rotate crash-after N=22-97 (directory journal replay passes NULL counters: mount dies with SIGSEGV)"
	sweep --ops rotate --modes crash-after --max-n 40
}

@test "known: kill -9 at random moments of a rotation loop" {
	skip "fails until the crash-safety rewrite: kills rotate (mount SIGSEGV, fsck CORRUPT after some kills)"
	kills --workloads rotate --rounds 4 --seed 1
}

@test "known: fsck right after a crash in rotation reports pending journals as corruption" {
	skip "fails until the crash-safety rewrite: rotate crash-after N=77/104/118 (fsck CORRUPT 'first at block 0' while the file journal is pending)"
	sweep --ops rotate --modes crash-after --n 60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80
}

@test "known: rotation loses the xattrs of empty files" {
	skip "fails until the rewrite: rotate-empty-xattr without any fault (an empty file's user.* xattr does not authenticate after rotate --wait)"
	sweep --ops rotate-empty-xattr --modes none
}

@test "known: readlink fails with EIO while a rotation converts the directory" {
	skip "fails until the rewrite: readlink of symlinks in a directory being rotated returns EIO (no fault needed)"
	setup_vault
	mount_vault
	mkdir "$MNT/d"
	for i in $(seq 40); do
		ln -s "target$i" "$MNT/d/l$i"
		head -c 100000 /dev/urandom >"$MNT/d/f$i"
	done
	"$LETHEFS" rotate "$MNT" >/dev/null
	fails=0
	for _ in $(seq 100); do
		readlink "$MNT/d/l1" "$MNT/d/l20" "$MNT/d/l40" >/dev/null || fails=$((fails + 1))
	done
	"$LETHEFS" rotate --wait "$MNT" >/dev/null
	[ "$fails" -eq 0 ]
}

@test "known: kill -9 under sqlite (DELETE and WAL journals) loses committed transactions" {
	skip "fails until the crash-safety rewrite: kills sqlite-delete (about 1 kill in 4: fsck CORRUPT in the database's old last block, integrity_check fails, committed rows missing)"
	kills --workloads sqlite-delete,sqlite-wal --rounds 8 --min-delay 0.2 --max-delay 1.5
}

@test "known: kill -9 during GNU tar extraction leaves a file fsck calls corrupt" {
	skip "fails until the crash-safety rewrite: kills tar (a file being extracted when the daemon dies can end in a block sealed non-final)"
	kills --workloads tar --rounds 8
}

@test "known: EIO from the directory fsync after rekey replaced the keyslots" {
	skip "fails until the crash-safety rewrite: rekey eio N=12 (lfs_replace_file fails after its rename; lfs_vault_store_rekey then deletes lethefs.keyring.new: no secret opens the vault)"
	sweep --ops rekey --modes eio,crash-after,fullfs
}
