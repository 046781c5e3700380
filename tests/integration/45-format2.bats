#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Format 2 (docs/FORMAT.md section 14): every object's type, mode, owner and
# group are in its authenticated record; the backing store decides nothing
# about who may read. Each attack of issue 13, played as the backing-store
# writer of THREAT-MODEL.md on an allow_other mount (the usual deployment:
# a service account reads the data), is ineffective -- the authenticated
# values are served, or the object is refused with EIO -- and fsck reports
# it. Without format 2 (the positive controls, on a format-1 vault) each
# attack works.

load helpers

setup() {
	setup_vault
	chmod 755 "$T"
}
teardown() {
	local rc=0
	teardown_vault || rc=1
	if id lfsf2-user >/dev/null 2>&1; then userdel lfsf2-user; fi
	return $rc
}

# A fresh vault in $VAULT with the current INIT_ARGS (a format-1 one for
# the positive controls).
setup_vault_again() {
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
		"${INIT_ARGS[@]}" "$VAULT" >/dev/null 2>&1
}

# A local account that should read nothing private: nobody.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

expect_fsck_finds() { # substring of the report
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"$1"* ]]
}

# The issue's own case: a private file, and its backing file made readable.
private_file() {
	mount_vault -o allow_other
	chmod 755 "$MNT"
	(umask 077 && echo "HIV positive: J. Roe" >"$MNT/secret.txt")
	run as_nobody cat "$MNT/secret.txt"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	B=$(backing_of secret.txt)
	unmount_vault
}

@test "attack: chmod 0644 of the backing file lets no other user read (fsck reports it)" {
	private_file
	chmod 0644 "$B"
	mount_vault -o allow_other
	[ "$(stat -c %a "$MNT/secret.txt")" = 600 ]
	run as_nobody cat "$MNT/secret.txt"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	[[ "$output" != *"J. Roe"* ]]
	unmount_vault
	expect_fsck_finds "/secret.txt: backing mode 0644"
}

@test "positive control (format 1): the same chmod makes the file readable" {
	INIT_ARGS=(--format 1)
	rm -rf "$VAULT"
	setup_vault_again
	private_file
	chmod 0644 "$B"
	mount_vault -o allow_other
	[ "$(as_nobody cat "$MNT/secret.txt")" = "HIV positive: J. Roe" ]
}

@test "attack: chown of the backing file to another user gives it nothing" {
	private_file
	chown 65534:65534 "$B"
	mount_vault -o allow_other
	[ "$(stat -c %u:%g "$MNT/secret.txt")" = 0:0 ]
	run as_nobody cat "$MNT/secret.txt"
	[ "$status" -ne 0 ]
	run as_nobody chmod 644 "$MNT/secret.txt"
	[ "$status" -ne 0 ]
	unmount_vault
	expect_fsck_finds "/secret.txt: backing mode 0600, owner 65534:65534"
}

@test "attack: clearing a shared directory's sticky bit lets nobody delete another's file" {
	mount_vault -o allow_other
	chmod 755 "$MNT"
	mkdir "$MNT/shared"
	chmod 1777 "$MNT/shared"
	echo root >"$MNT/shared/roots"
	D=$(backing_of shared)
	unmount_vault
	chmod 0777 "$D" # what format 1 would have read as "not sticky"
	mount_vault -o allow_other
	[ "$(stat -c %a "$MNT/shared")" = 1777 ]
	run as_nobody rm -f "$MNT/shared/roots"
	[ "$status" -ne 0 ]
	[ -e "$MNT/shared/roots" ]
	unmount_vault
	expect_fsck_finds "/shared: backing mode 0777"
}

@test "attack: a set-group-ID bit and group put on a backing directory are not inherited" {
	mount_vault -o allow_other
	mkdir "$MNT/inbox"
	D=$(backing_of inbox)
	unmount_vault
	chmod 2777 "$D"
	chgrp 65534 "$D"
	mount_vault -o allow_other
	[ "$(stat -c %a:%g "$MNT/inbox")" = 755:0 ]
	echo x >"$MNT/inbox/new"
	mkdir "$MNT/inbox/sub"
	[ "$(stat -c %g "$MNT/inbox/new")" = 0 ]
	[ "$(stat -c %a:%g "$MNT/inbox/sub")" = 755:0 ]
	# The record's own set-group-ID bit is inherited, as on ext4.
	chmod 2775 "$MNT/inbox"
	chgrp 65534 "$MNT/inbox"
	echo y >"$MNT/inbox/new2"
	mkdir "$MNT/inbox/sub2"
	[ "$(stat -c %g "$MNT/inbox/new2")" = 65534 ]
	[ "$(stat -c %a:%g "$MNT/inbox/sub2")" = 2755:65534 ]
	unmount_vault
	expect_fsck_finds "/inbox: backing mode 2777"
}

@test "attack: a set-user-ID bit on a backing file changes nothing" {
	mount_vault -o allow_other
	printf '#!/bin/sh\nid -u\n' >"$MNT/tool"
	chmod 755 "$MNT/tool"
	B=$(backing_of tool)
	unmount_vault
	chmod 4755 "$B"
	mount_vault -o allow_other,allow_suid
	[ "$(stat -c %a "$MNT/tool")" = 755 ]
	unmount_vault
	expect_fsck_finds "/tool: backing mode 4755"
}

@test "attack: a device node under a file's name is refused, even with -o dev (EIO, logged, audited)" {
	private_file
	rm "$B"
	mknod -m 666 "$B" c 1 5 # /dev/zero
	mount_logged -o allow_other,allow_dev
	run stat "$MNT/secret.txt"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	run head -c 4 "$MNT/secret.txt"
	[ "$status" -ne 0 ]
	grep -q "refused: backing character device where only format 2 may be" "$T/daemon.log"
	unmount_vault
	grep -q '"event":"tamper","outcome":"refused"' "$VAULT/lethefs.audit"
	expect_fsck_finds "/secret.txt: backing character device where only format 2 may be"
}

@test "attack: a FIFO, a symlink or an empty file under a file's name is refused" {
	mount_vault
	echo data >"$MNT/a"
	echo data >"$MNT/b"
	echo data >"$MNT/c"
	ln -s a "$MNT/l"
	A=$(backing_of a) && Bk=$(backing_of b) && C=$(backing_of c)
	unmount_vault
	rm "$A" "$Bk"
	mkfifo "$A"
	ln -s whatever "$Bk"
	: >"$C" # a format-1 empty file: no record
	mount_vault
	for f in a b c; do
		run stat "$MNT/$f"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Input/output error"* ]]
	done
	[ "$(readlink "$MNT/l")" = a ]
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"/a: backing FIFO where only format 2 may be"* ]]
	[[ "$output" == *"/b: backing symlink where only format 2 may be"* ]]
	[[ "$output" == *"/c: format-1 file where only format 2 may be"* ]]
}

@test "attack: a record that does not authenticate, or a type swapped between objects, is refused" {
	mount_vault
	echo data >"$MNT/f"
	mkfifo "$MNT/p"
	mkdir "$MNT/d"
	F=$(backing_of f) && P=$(backing_of p) && D=$(backing_of d)
	unmount_vault
	HDR=$(hdr_len)
	flip_byte "$F" 100 # inside the sealed record
	# The FIFO's header (a record of type FIFO) on a directory's metadata:
	# a directory whose record says FIFO.
	cp "$D/.lethefs.dir" "$T/dirmeta"
	head -c 32 "$T/dirmeta" >"$T/mixed"
	tail -c +33 "$P" | head -c 120 >>"$T/mixed"
	cp "$T/mixed" "$D/.lethefs.dir"
	mount_vault
	run cat "$MNT/f"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	run ls "$MNT/d"
	[ "$status" -ne 0 ]
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"/f: file record does not authenticate"* ]]
	[[ "$output" == *"/d: directory record does not authenticate"* ]]
}

@test "downgrade: a directory's metadata rewritten as format 1 is refused" {
	mount_vault -o allow_other
	chmod 755 "$MNT"
	mkdir "$MNT/private"
	chmod 700 "$MNT/private"
	echo x >"$MNT/private/inside"
	D=$(backing_of private)
	unmount_vault
	# Same directory id and epoch, version 1 (no record): format 1 would
	# take the backing directory's mode.
	python3 - "$D/.lethefs.dir" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read()[:32])
b[4] = 1
open(p, "wb").write(bytes(b))
PY
	chmod 0755 "$D"
	mount_vault -o allow_other
	run as_nobody ls "$MNT/private"
	[ "$status" -ne 0 ]
	run stat "$MNT/private"
	[[ "$output" == *"Input/output error"* ]]
	unmount_vault
	expect_fsck_finds "/private: format-1 directory where only format 2 may be"
}

@test "downgrade: lethefs.conf edited to format 1 is refused (the keyring says 2)" {
	sed -i 's/^format = 2$/format = 1/' "$VAULT/lethefs.conf"
	run "$LETHEFS" info "$VAULT"
	[[ "$output" == *"format:   1"* ]]
	# The keyring is authoritative: the vault opens as format 2 and the
	# config is set right again.
	mount_vault
	unmount_vault
	[ "$(vault_format)" = 2 ]
	# The other way round: a format-1 vault whose config claims 2.
	INIT_ARGS=(--format 1)
	rm -rf "$VAULT"
	setup_vault_again
	sed -i 's/^format = 1$/format = 2/' "$VAULT/lethefs.conf"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 5 ]
}

@test "the backing tree has one owner and fixed modes, whoever created what with which mode" {
	id lfsf2-user >/dev/null 2>&1 || useradd -M -s /bin/sh lfsf2-user
	mount_vault -o allow_other
	chmod 1777 "$MNT"
	runuser -u lfsf2-user -- sh -c "umask 022; cd '$MNT' && echo u >uf && mkdir ud && mkfifo up && ln -s uf ul && chmod 4750 uf && chmod 2751 ud"
	(umask 077 && echo r >"$MNT/rf" && mkdir "$MNT/rd")
	chown 1234:5678 "$MNT/rf"
	python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$MNT/sock')"
	u=$(id -u lfsf2-user)
	[ "$(stat -c '%a %u' "$MNT/uf" "$MNT/ud" "$MNT/up" "$MNT/rf" "$MNT/rd" "$MNT/sock" | tr '\n' ,)" = \
		"4750 $u,2751 $u,644 $u,600 1234,700 0,755 0," ]
	[ "$(stat -c %F "$MNT/up")" = fifo ]
	[ "$(stat -c %F "$MNT/sock")" = socket ]
	unmount_vault
	[ -z "$(find "$VAULT/d" ! -user root -o ! -group root)" ]
	[ -z "$(find "$VAULT/d" -type f ! -name '.N*' ! -perm 0600)" ]
	[ -z "$(find "$VAULT/d" -mindepth 1 -type d ! -perm 0700)" ]
	[ -z "$(find "$VAULT/d" ! -type f ! -type d)" ]
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
}

@test "chmod and chown keep the file's times; a long symlink target needs no sidecar" {
	mount_vault
	echo data >"$MNT/f"
	touch -d '2020-01-02 03:04:05' "$MNT/f"
	chmod 640 "$MNT/f"
	chown 12:34 "$MNT/f"
	[ "$(stat -c %y "$MNT/f")" = "2020-01-02 03:04:05.000000000 +0000" ]
	t=$(python3 -c "print(('/seg-' * 900)[:4094] + 'Z')")
	ln -s "$t" "$MNT/long"
	[ "$(readlink "$MNT/long")" = "$t" ]
	[ "$(stat -c %s "$MNT/long")" = 4095 ]
	unmount_vault
	[ -z "$(find "$VAULT/d" -name '.lethefs.link.*')" ]
	mount_vault
	[ "$(stat -c '%a %u %g' "$MNT/f")" = "640 12 34" ]
	[ "$(readlink "$MNT/long")" = "$t" ]
}

@test "device nodes: made only with -o dev, kept in their record, opened by the kernel" {
	mount_vault
	run mknod "$MNT/zero" c 1 5
	[ "$status" -ne 0 ]
	unmount_vault
	mount_vault -o allow_dev
	mknod -m 666 "$MNT/zero" c 1 5
	[ "$(stat -c '%F %t:%T' "$MNT/zero")" = "character special file 1:5" ]
	[ "$(head -c 4 "$MNT/zero" | od -An -tx1 | tr -d ' ')" = 00000000 ]
	B=$(backing_of zero)
	[ "$(stat -c '%F %s' "$B")" = "regular file 152" ]
	unmount_vault
	# Without -o dev the mount is nodev: the record is served, the device
	# cannot be opened.
	mount_vault
	[ "$(stat -c %F "$MNT/zero")" = "character special file" ]
	run head -c 4 "$MNT/zero"
	[ "$status" -ne 0 ]
}

@test "POSIX ACLs on FIFOs and sockets are stored in format 2" {
	mount_vault
	mkfifo "$MNT/p"
	setfacl -m u:4321:rw "$MNT/p"
	getfacl -n "$MNT/p" | grep -qx "user:4321:rw-"
	unmount_vault
	mount_vault
	getfacl -n "$MNT/p" | grep -qx "user:4321:rw-"
}
