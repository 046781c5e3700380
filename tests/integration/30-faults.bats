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

@test "kill -9 while staging directories are created, filled and expire" {
	kills --workloads staging --rounds 3 --seed 1
}

# --- known failures of today's code (issue 12) ---------------------------------------
# One test per case, numbered as in tests/fault/KNOWN-FAILURES.md; the
# arguments reproduce it exactly.

@test "known #1: crash between the two writes of a block-aligned append" {
	skip "fails until the crash-safety rewrite: #1 append-aligned crash-after N=1 / crash-before N=2 (old last block re-sealed non-final, new blocks not written: EIO from 4,096)"
	sweep --ops append-aligned --modes crash-before,crash-after
}

@test "known #1: crash inside a growing write with a gap (sealed zeros, SPARSE)" {
	skip "fails until the crash-safety rewrite: #1 write-gap-small crash 1-4, write-gap-large crash 1-5 (EIO from 4,096 or at the new last block; or extended with zeros)"
	sweep --ops write-gap-small,write-gap-large --modes crash-before,crash-after
}

@test "known #1: crash inside an extending truncate or fallocate" {
	skip "fails until the crash-safety rewrite: #1 truncate-extend(-large) crash 1-3, fallocate crash 1-2 (EIO from 4,096)"
	sweep --ops truncate-extend,truncate-extend-large,fallocate --modes crash-before,crash-after
}

@test "known #1: crash in an append the kernel splits (no writeback cache)" {
	skip "fails until the crash-safety rewrite: #1 append-unaligned and write-cross-last-block with -o no_writeback_cache, crash 1-2 (EIO from 49,152 / 4,096)"
	sweep --opts no_writeback_cache --ops append-unaligned,write-cross-last-block --modes crash-before,crash-after
}

@test "known #2: crash between the re-seal and the ftruncate of a shrinking truncate" {
	skip "fails until the crash-safety rewrite: #2 truncate-shrink-unaligned/aligned crash-after N=1, eio N=2 (block 7 re-sealed final, file not cut: EIO from 28,672)"
	sweep --ops truncate-shrink-unaligned,truncate-shrink-aligned --modes crash-before,crash-after,eio
}

@test "full tmpfs: a failed append keeps the old last block (issue 12)" {
	skip "fails until the crash-safety rewrite: #3 ENOSPC append to a 50,004-byte file on a full tmpfs leaves it unreadable from 49,152"
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

@test "known #3: ENOSPC in the middle of a write re-sealing the last block (shim, tmpfs, ext4)" {
	skip "fails until the crash-safety rewrite: #3 append-unaligned enospc-short N=1, full tmpfs N=1, full ext4 N=2 (torn re-seal of block 12: EIO from 49,152)"
	sweep --ops append-unaligned,append-in-block,write-cross-last-block --modes enospc-short,fullfs &&
		sweep --ops append-unaligned,write-cross-last-block --modes fullfs --fullfs-fs ext4
}

@test "known #4: EIO on the second write of a growing write is not undone" {
	skip "fails until the crash-safety rewrite: #4 append-aligned eio N=2 (write_locked does not restore the tail on EIO: EIO from 4,096)"
	sweep --ops append-aligned,write-gap-small --modes eio
}

@test "known #4: ENOSPC or EIO in an extending truncate or fallocate is not undone" {
	skip "fails until the crash-safety rewrite: #4 truncate-extend enospc N=2-3, fallocate enospc N=2-3, full tmpfs N=1-7 (EIO from 4,096)"
	sweep --ops truncate-extend,truncate-extend-large,fallocate --modes enospc,enospc-short,eio,fullfs
}

@test "known #5: EIO after truncating to zero is reported but the file is gone" {
	skip "fails until the crash-safety rewrite: #5 truncate-zero eio N=2 (utimensat fails after ftruncate(0): ftruncate reports EIO, the live mount shows 50,004 bytes of other content)"
	sweep --ops truncate-zero --modes eio
}

@test "known #6: crash inside rmdir (metadata removed first)" {
	skip "fails until the crash-safety rewrite: #6 rmdir crash-after N=1 (.lethefs.dir unlinked, directory kept: listing EIO, fsck CORRUPT)"
	sweep --ops rmdir --modes crash-before,crash-after
}

@test "known #6: kill -9 during tar extraction and rm -rf leaves a directory without metadata" {
	skip "fails until the crash-safety rewrite: #6 kills tar (rm -rf of an older round killed between unlinking .lethefs.dir and rmdir: listing EIO, fsck CORRUPT)"
	kills --workloads tar --rounds 20
}

@test "known #7: a crash while adopting a directory as staging loses the directory" {
	skip "fails until the crash-safety rewrite: #7 stage-adopt crash-after N=18-23 (directory moved to staging/ID, marker not yet written: /job disappears)"
	sweep --ops stage-adopt --modes crash-before,crash-after,enospc,eio
}

@test "known #8: kill -9 during rotate leaves a vault that segfaults at mount (issue 12)" {
	skip "fails until the crash-safety rewrite: #8 rotate crash-after at the directory conversions, about N=17-97 (journal replay passes NULL counters: mount dies with SIGSEGV)"
	sweep --ops rotate --modes crash-after --max-n 40
}

@test "known #8: kill -9 at random moments of a rotation loop" {
	skip "fails until the crash-safety rewrite: #8 kills rotate (3 kills in 20: the next mount dies with SIGSEGV)"
	kills --workloads rotate --rounds 20
}

@test "known #8: a full ext4 during a rotation leaves a vault that segfaults at mount" {
	skip "fails until the crash-safety rewrite: #8 rotate on a full ext4 with 4 pages free (no crash at all): SIGSEGV at the next mount"
	sweep --ops rotate --modes fullfs --fullfs-fs ext4 --n 3,4,5,6
}

@test "known #9: fsck right after a crash in rotation reports pending work as corruption" {
	skip "fails until the crash-safety rewrite: #9 rotate crash-after N=77/118/130/140/154 (fsck CORRUPT 'first at block 0' while the file journal is pending; names 'do not authenticate' mid-directory)"
	sweep --ops rotate --modes crash-after --n 70,71,72,73,74,75,76,77,78,79,80,81
}

@test "known #10: EIO on the new header of a file being re-sealed by rotation" {
	skip "fails until the crash-safety rewrite: #10 rotate eio N=70/78/105/119/131/141/155 (pwrite off=0 len=48 fails: file EIO from block 0 for good, rotation 'failed')"
	sweep --ops rotate --modes eio
}

@test "known #11: rotation on a full disk never gives up" {
	skip "fails until the crash-safety rewrite: #11 rotate enospc N=4-42 (rotate --wait does not return; the worker retries thousands of times a second)"
	sweep --ops rotate --modes enospc --n 4,5,6
}

@test "known #12: rotation loses the xattrs of empty files" {
	skip "fails until the crash-safety rewrite: #12 rotate-empty-xattr without any fault (an empty file's user.* xattr does not authenticate after rotate --wait)"
	sweep --ops rotate-empty-xattr --modes none
}

@test "known: readlink fails with EIO while a rotation converts the directory" {
	skip "fails until the rewrite: #13 readlink of symlinks in a directory being rotated returns EIO (no fault needed)"
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

@test "known #14: EIO from the directory fsync after rekey replaced the keyslots" {
	skip "fails until the crash-safety rewrite: #14 rekey eio N=12 (lfs_replace_file fails after its rename; lfs_vault_store_rekey then deletes lethefs.keyring.new: no secret opens the vault)"
	sweep --ops rekey --modes eio,crash-after,fullfs
}

@test "known #1: kill -9 under append+fsync loses fsync'd records" {
	skip "fails until the crash-safety rewrite: #1 kills append (1 kill in 20: the file's old last block sealed non-final, EIO from there, fsck CORRUPT)"
	kills --workloads append --rounds 40
}

@test "known #1: kill -9 under sqlite (DELETE and WAL journals) loses committed transactions" {
	skip "fails until the crash-safety rewrite: #1 kills sqlite-delete (up to 1 kill in 4 with short delays: CORRUPT block in the database, integrity_check fails, committed rows missing)"
	kills --workloads sqlite-delete,sqlite-wal --rounds 16 --min-delay 0.2 --max-delay 1.5
}
