#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Data-key rotation (docs/ROTATION.md): online re-encryption under load,
# crash and resume, and old keys that decrypt nothing afterwards.

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

epoch_of_backing_file() {
	# Header bytes 8..11: the epoch, little-endian.
	od -An -tu4 -j8 -N4 "$1" | tr -d ' '
}

populate() {
	mkdir -p "$MNT/dir/sub"
	head -c 3000000 /dev/urandom >"$MNT/dir/sub/big"
	echo small >"$MNT/dir/small"
	ln "$MNT/dir/small" "$MNT/dir/hardlink"
	ln -s dir/small "$MNT/link"
	setfattr -n user.tag -v kept "$MNT/dir/small"
	long=$(printf 'L%.0s' $(seq 240))
	echo long >"$MNT/dir/$long"
	: >"$MNT/empty"
	(cd "$MNT" && find . -type f -exec md5sum {} + | sort -k2) >"$T/sums"
}

check_tree() {
	(cd "$MNT" && find . -type f -exec md5sum {} + | sort -k2) | diff - "$T/sums"
	[ "$(readlink "$MNT/link")" = dir/small ]
	[ "$(getfattr --only-values -n user.tag "$MNT/dir/small")" = kept ]
	[ "$(cat "$MNT/dir/$long")" = long ]
}

@test "rotate --wait re-encrypts everything, retires the old epoch, audits it" {
	populate
	run "$LETHEFS" rotate --wait --json "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"rotation_state":"idle"'* ]]
	[[ "$output" == *'"rotation_epoch":2'* ]]
	[[ "$output" == *'"rotation_last_retired_epoch":1'* ]]
	check_tree
	# Every non-empty backing file now names epoch 2; the root's names too.
	while IFS= read -r f; do
		[ "$(epoch_of_backing_file "$f")" -eq 2 ]
	done < <(find "$VAULT/d" -type f -size +0 ! -name '.*')
	[ "$(epoch_of_backing_file "$VAULT/d/.lethefs.dir")" -eq 2 ]
	[ "$(stat -c %s "$VAULT/lethefs.keyring")" -eq 120 ] # one epoch: 80 + 40
	grep -q '"event":"rotate","outcome":"started"' "$VAULT/lethefs.audit"
	grep -q '"event":"rotate","outcome":"epoch-destroyed".*"epoch":1' "$VAULT/lethefs.audit"
	"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	unmount_vault
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
}

@test "rotation under a concurrent writer and reader keeps every byte" {
	head -c 20000000 /dev/urandom >"$T/src"
	for i in 1 2 3 4 5 6; do cp "$T/src" "$MNT/f$i"; done
	# A writer appends to one file and a reader checks another while the
	# rotation runs.
	(for i in $(seq 40); do head -c 100000 "$T/src" >>"$MNT/grow"; done) &
	writer=$!
	(for i in $(seq 20); do cmp "$T/src" "$MNT/f3" || exit 1; done) &
	reader=$!
	"$LETHEFS" rotate --wait "$MNT"
	wait "$writer"
	wait "$reader"
	for i in 1 2 3 4 5 6; do cmp "$T/src" "$MNT/f$i"; done
	for i in $(seq 40); do head -c 100000 "$T/src"; done | cmp - "$MNT/grow"
	# A second rotation converts what the writer added under epoch 2.
	"$LETHEFS" rotate --wait "$MNT"
	for i in $(seq 40); do head -c 100000 "$T/src"; done | cmp - "$MNT/grow"
	[ "$(stat -c %s "$VAULT/lethefs.keyring")" -eq 120 ]
}

@test "kill -9 during rotation: remount resumes and finishes, every file intact" {
	head -c 150000000 /dev/urandom >"$T/src"
	cp "$T/src" "$MNT/a"
	cp "$T/src" "$MNT/b"
	populate
	sync
	"$LETHEFS" rotate "$MNT"
	sleep 0.3
	local pid
	pid=$(pgrep -f "lethefs mount .*$VAULT" | head -n1)
	[ -n "$pid" ]
	kill -9 "$pid"
	# A killed process holds its socket and the vault's lease until its
	# last thread has exited and it is reaped: a remount before then finds
	# the vault in use. Its command line goes first (pgrep -f misses it
	# while a thread is still in the backing store's fdatasync), so the
	# wait is for the process itself.
	for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
	fusermount3 -u "$MNT" || umount -l "$MNT"
	# Two epochs on disk: the next mount resumes by itself.
	[ "$(stat -c %s "$VAULT/lethefs.keyring")" -eq 160 ]
	mount_vault
	"$LETHEFS" rotate --wait "$MNT"
	cmp "$T/src" "$MNT/a"
	cmp "$T/src" "$MNT/b"
	check_tree
	[ ! -e "$VAULT/lethefs.rotation.journal" ]
	[ "$(stat -c %s "$VAULT/lethefs.keyring")" -eq 120 ]
	unmount_vault
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
}

@test "after rotation, a copy of the old keyring decrypts no current file" {
	populate
	cp "$VAULT/lethefs.keyring" "$T/old.keyring"
	"$LETHEFS" rotate --wait "$MNT"
	unmount_vault
	cp "$VAULT/lethefs.keyring" "$T/new.keyring"
	# The same master key opens the old keyring, but its only epoch (1) no
	# longer encrypts anything: fsck reads nothing, a mount shows nothing.
	cp "$T/old.keyring" "$VAULT/lethefs.keyring"
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	mount_vault
	# No name authenticates: the listing is empty (format 1), or the root's
	# record itself does not open (format 2).
	run ls -A "$MNT"
	[ -z "$output" ] || [[ "$output" == *"Input/output error"* ]]
	run cat "$MNT/dir/small"
	[ "$status" -ne 0 ]
	unmount_vault
	cp "$T/new.keyring" "$VAULT/lethefs.keyring"
	mount_vault
	check_tree
}

@test "rotate: exit 14 on a locked volume, 2 on bad usage, 11 on a non-mount" {
	populate
	"$LETHEFS" lock "$MNT"
	run "$LETHEFS" rotate "$MNT"
	[ "$status" -eq 14 ]
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	run "$LETHEFS" rotate "$MNT" /nonexistent
	[ "$status" -eq 2 ]
	run "$LETHEFS" rotate "$T"
	[ "$status" -eq 11 ]
}

@test "scripts/rotate-keys.sh: exit codes 0, 3 (not mounted), 4 (locked), log lines" {
	populate
	S=$BATS_TEST_DIRNAME/../../scripts/rotate-keys.sh
	run env LETHEFS="$LETHEFS" "$S" "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^lethefs-rotate: level=info msg="rotation completed" .*epoch=2 previous_epoch=1' <<<"$output"
	check_tree
	"$LETHEFS" lock "$MNT"
	run env LETHEFS="$LETHEFS" "$S" "$MNT"
	[ "$status" -eq 4 ]
	grep -q 'level=error msg="volume is locked' <<<"$output"
	run env LETHEFS="$LETHEFS" "$S" "$T"
	[ "$status" -eq 3 ]
	run env LETHEFS="$LETHEFS" "$S"
	[ "$status" -eq 2 ]
}

@test "xattrs read, list, replace and remove correctly while the rotation has not reached them" {
	mkdir "$MNT/x"
	for i in $(seq 60); do
		head -c 200000 /dev/urandom >"$MNT/x/f$i"
		setfattr -n user.tag -v "value-$i" "$MNT/x/f$i"
	done
	"$LETHEFS" rotate "$MNT"
	# Right away, most files are still under the old epoch.
	for i in $(seq 60); do
		[ "$(getfattr --only-values -n user.tag "$MNT/x/f$i")" = "value-$i" ]
	done
	getfattr -d "$MNT/x/f60" 2>/dev/null | grep -q 'user.tag="value-60"'
	run python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.tag", b"again", os.XATTR_CREATE)' "$MNT/x/f59"
	[ "$status" -ne 0 ]
	[[ "$output" == *"File exists"* ]]
	python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.tag", b"replaced", os.XATTR_REPLACE)' "$MNT/x/f58"
	setfattr -x user.tag "$MNT/x/f57"
	"$LETHEFS" rotate --wait "$MNT" >/dev/null
	[ "$(getfattr --only-values -n user.tag "$MNT/x/f58")" = replaced ]
	[ "$(getfattr -d "$MNT/x/f58" 2>/dev/null | grep -c user.tag)" = 1 ]
	run getfattr -n user.tag "$MNT/x/f57"
	[ "$status" -ne 0 ]
	[ "$(getfattr --only-values -n user.tag "$MNT/x/f1")" = value-1 ]
}

@test "xattrs of an empty file survive a rotation (found by the ACL tests)" {
	touch "$MNT/empty"
	setfattr -n user.tag -v kept "$MNT/empty"
	"$LETHEFS" rotate --wait "$MNT" >/dev/null
	unmount_vault
	mount_vault
	[ "$(getfattr --only-values -n user.tag "$MNT/empty")" = kept ]
}

@test "a directory listed while the rotation converts its names lists every entry once" {
	# Each conversion renames all of a directory's entries: a listing
	# spanning many READDIR calls meets it between two calls or (without
	# the directory's lock) in the middle of one.
	unmount_vault
	mount_logged
	for d in a b c d e f; do mkdir "$MNT/$d"; done
	seq -f 'patient-record-%05g.hl7' 1 1200 >"$T/names"
	for d in a b c d e f; do (cd "$MNT/$d" && xargs touch <"$T/names"); done
	echo tiny >"$MNT/a/patient-record-00001.hl7"
	rm -f "$T/stop"
	python3 "$BATS_TEST_DIRNAME/slow_lister.py" "$T/stop" "$T/names" \
		"$MNT"/a "$MNT"/b "$MNT"/c "$MNT"/d "$MNT"/e "$MNT"/f >"$T/listed" 2>&1 &
	lister=$!
	sleep 0.5
	"$LETHEFS" rotate --wait "$MNT"
	# A second rotation: more conversions under the lister.
	"$LETHEFS" rotate --wait "$MNT"
	touch "$T/stop"
	st=0
	wait "$lister" || st=$?
	cat "$T/listed"
	[ "$st" -eq 0 ]
	[ "$(cat "$T/listed")" -ge 6 ]
	[ "$(cat "$MNT/a/patient-record-00001.hl7")" = tiny ]
	# No name looked forged to the daemon meanwhile.
	run grep -c "does not authenticate" "$T/daemon.log"
	[ "$output" = 0 ]
}
