#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Inode attributes (-o iattr, docs/FORMAT.md 14.9): a regular file's type,
# mode, owner and group sealed into the backing xattr user.l, which lookups
# read instead of the file header. Played as the backing-store writer of
# THREAT-MODEL.md on an allow_other mount: an attribute swapped between two
# files, replayed, cut, corrupted or deleted never grants a mode or owner
# the file did not have; contents of a file under another file's attribute
# are refused (EIO); fsck reports each case.

load helpers

setup() {
	setup_vault
	chmod 755 "$T"
}
teardown() {
	teardown_vault
}

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

expect_fsck_finds() { # substring of the report
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"$1"* ]]
}

expect_fsck_clean() {
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

attr_of() { getfattr -n user.l -e hex "$1" 2>/dev/null | sed -n 's/^user.l=//p'; }
set_attr() { setfattr -n user.l -v "$2" "$1"; }

# A private file (0600, root) and a public one (0644, nobody's), made with
# attributes; $P and $Q their backing files.
two_files() {
	mount_logged -o allow_other,iattr
	chmod 755 "$MNT"
	(umask 077 && echo "HIV positive: J. Roe" >"$MNT/private.txt")
	echo "public notice" >"$MNT/public.txt"
	chmod 0644 "$MNT/public.txt"
	chown 65534:65534 "$MNT/public.txt"
	P=$(backing_of private.txt)
	Q=$(backing_of public.txt)
	unmount_vault
	[ -n "$(attr_of "$P")" ]
	[ -n "$(attr_of "$Q")" ]
}

@test "iattr: a new file gets its attribute; chmod and chown rewrite it and the header's record in step" {
	mount_vault -o iattr
	echo data >"$MNT/f"
	B=$(backing_of f)
	a1=$(attr_of "$B")
	[ "${#a1}" -eq $((2 + 2 * 68)) ] # 0x and 68 bytes
	h1=$(head -c 152 "$B" | od -An -tx1 | tr -d ' \n')
	chmod 0640 "$MNT/f"
	chown 12:34 "$MNT/f"
	[ "$(stat -c %a:%u:%g "$MNT/f")" = 640:12:34 ]
	h2=$(head -c 152 "$B" | od -An -tx1 | tr -d ' \n')
	[ "$h1" != "$h2" ]                  # the header's record rewritten too
	[ "${h1:0:48}" = "${h2:0:48}" ]     # same version, flags, epoch, file id
	[ "$(attr_of "$B")" != "$a1" ]
	unmount_vault
	# Served from the attribute with and without -o iattr (the header's
	# flag says where the record is).
	mount_vault -o noiattr
	[ "$(stat -c %a:%u:%g "$MNT/f")" = 640:12:34 ]
	[ "$(cat "$MNT/f")" = data ]
	unmount_vault
	mount_vault -o iattr
	[ "$(stat -c %a:%u:%g "$MNT/f")" = 640:12:34 ]
	unmount_vault
	expect_fsck_clean
}

@test "iattr: with -o noiattr, and on -o shared, new files get no attribute" {
	mount_vault -o noiattr
	echo a >"$MNT/a"
	[ -z "$(attr_of "$(backing_of a)")" ]
	unmount_vault
	mount_vault -o shared
	echo b >"$MNT/b"
	[ -z "$(attr_of "$(backing_of b)")" ]
	unmount_vault
}

@test "attack: attributes swapped between two files: no mode gained, contents refused (EIO), fsck reports" {
	two_files
	ap=$(attr_of "$P")
	aq=$(attr_of "$Q")
	set_attr "$P" "$aq"
	set_attr "$Q" "$ap"
	mount_logged -o allow_other,iattr
	# getattr may show the other file's mode (the lookup does not read the
	# header), but nothing that acts on the file accepts it.
	run as_nobody cat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	[[ "$output" != *"J. Roe"* ]]
	run cat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	run chmod 0666 "$MNT/private.txt"
	[ "$status" -ne 0 ]
	run setfattr -n user.x -v 1 "$MNT/private.txt"
	[ "$status" -ne 0 ]
	run setfacl -m u:65534:r "$MNT/private.txt"
	[ "$status" -ne 0 ]
	run cat "$MNT/public.txt"
	[ "$status" -ne 0 ]
	grep -q "inode attribute belongs to another file" "$T/daemon.log"
	unmount_vault
	grep -q '"event":"tamper","outcome":"refused"' "$VAULT/lethefs.audit"
	# A mount without -o iattr reads the header first: refused at lookup.
	mount_vault -o allow_other,noiattr
	run stat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	unmount_vault
	expect_fsck_finds "/private.txt: inode attribute belongs to another file"
}

@test "attack: an older attribute replayed after chmod shows only a mode the file had (rollback, THREAT-MODEL 4.3)" {
	two_files
	old=$(attr_of "$P") # 0600 root
	mount_vault -o allow_other,iattr
	chmod 0604 "$MNT/private.txt"
	unmount_vault
	new=$(attr_of "$P")
	[ "$old" != "$new" ]
	set_attr "$P" "$old"
	mount_vault -o allow_other,iattr
	[ "$(stat -c %a:%u "$MNT/private.txt")" = 600:0 ]
	run as_nobody cat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	[ "$(cat "$MNT/private.txt")" = "HIV positive: J. Roe" ]
	unmount_vault
	expect_fsck_clean # a rollback is not detectable (THREAT-MODEL 4.3)
}

@test "attack: an attribute cut short or corrupted is refused (EIO), logged, fsck reports" {
	two_files
	a=$(attr_of "$P")
	set_attr "$P" "${a:0:122}" # 60 bytes
	mount_logged -o allow_other,iattr
	run stat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	grep -q "inode attribute malformed" "$T/daemon.log"
	unmount_vault
	expect_fsck_finds "/private.txt: inode attribute malformed"
	# One bit of the sealed part flipped.
	last=${a: -2}
	flipped=$(printf '%02x' $((0x$last ^ 1)))
	set_attr "$P" "${a:0:${#a}-2}$flipped"
	mount_vault -o allow_other,noiattr
	run stat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	run as_nobody cat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	unmount_vault
	expect_fsck_finds "/private.txt: inode attribute does not authenticate"
	# An attribute too long for one.
	set_attr "$P" "${a}00"
	mount_vault -o allow_other,iattr
	run stat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	unmount_vault
}

@test "attack: a deleted attribute (or a backup without xattrs) is served from the header's record, never an older mode" {
	two_files
	# The private file was made 0600 by its umask; chmod it 0644 and back
	# to 0600 and make it another owner's, so that the header's record of
	# its creation differs from what it is now in both directions.
	mount_vault -o allow_other,iattr
	chmod 0644 "$MNT/private.txt"
	chmod 0600 "$MNT/private.txt"
	chown 4711:4712 "$MNT/private.txt"
	unmount_vault
	setfattr -x user.l "$P"
	setfattr -x user.l "$Q" # the public file, owned by nobody
	mount_logged -o allow_other,iattr
	[ "$(stat -c %a:%u:%g "$MNT/private.txt")" = 600:4711:4712 ]
	[ "$(stat -c %a:%u:%g "$MNT/public.txt")" = 644:65534:65534 ]
	run as_nobody cat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	[ "$(as_nobody cat "$MNT/public.txt")" = "public notice" ]
	grep -q "degraded: inode attribute missing: served from the file header's record" "$T/daemon.log"
	unmount_vault
	grep -q '"event":"tamper","outcome":"degraded"' "$VAULT/lethefs.audit"
	expect_fsck_finds "/public.txt: inode attribute missing: served from the file header's record by mounts"
	# Without -o iattr too; a chmod writes a new attribute.
	mount_vault -o allow_other,noiattr
	[ "$(stat -c %a:%u "$MNT/public.txt")" = 644:65534 ]
	[ "$(cat "$MNT/public.txt")" = "public notice" ]
	chmod 0640 "$MNT/public.txt"
	unmount_vault
	[ -n "$(attr_of "$Q")" ]
	mount_vault -o allow_other,iattr
	[ "$(stat -c %a:%u "$MNT/public.txt")" = 640:65534 ]
	chmod 0644 "$MNT/private.txt"
	unmount_vault
	[ -n "$(attr_of "$P")" ]
	expect_fsck_clean
	mount_vault -o allow_other,iattr
	[ "$(stat -c %a:%u "$MNT/private.txt")" = 644:4711 ]
	unmount_vault
	# A rotation carries a lost attribute's file over with its header's
	# record (and gives it a new attribute on an -o iattr mount).
	setfattr -x user.l "$P"
	mount_vault -o allow_other,iattr
	"$LETHEFS" rotate --wait "$MNT"
	[ "$(stat -c %a:%u "$MNT/private.txt")" = 644:4711 ]
	P=$(backing_of private.txt)
	unmount_vault
	[ -n "$(attr_of "$P")" ]
	mount_vault -o allow_other,iattr
	[ "$(stat -c %a:%u:%g "$MNT/private.txt")" = 644:4711:4712 ]
	[ "$(cat "$MNT/private.txt")" = "HIV positive: J. Roe" ]
}

@test "iattr: a backup of the backing store made by rsync -a without -X mounts with every mode and owner as it was" {
	two_files
	mount_vault -o allow_other,iattr
	chmod 0640 "$MNT/private.txt"
	chown 4711:4712 "$MNT/private.txt"
	unmount_vault
	mkdir "$T/restore"
	rsync -a "$VAULT/" "$T/restore/" # no -X: the attributes stay behind
	VAULT=$T/restore
	[ -z "$(getfattr -d -m - -R "$VAULT/d" 2>/dev/null | grep 'user.l=')" ]
	mount_vault -o allow_other,iattr
	[ "$(stat -c %a:%u:%g "$MNT/private.txt")" = 640:4711:4712 ]
	[ "$(stat -c %a:%u:%g "$MNT/public.txt")" = 644:65534:65534 ]
	[ "$(cat "$MNT/private.txt")" = "HIV positive: J. Roe" ]
	[ "$(as_nobody cat "$MNT/public.txt")" = "public notice" ]
	run as_nobody cat "$MNT/private.txt"
	[ "$status" -ne 0 ]
	unmount_vault
}

@test "attack: an attribute planted on a file that has none gains nothing (its header is the record)" {
	mount_vault -o allow_other,noiattr
	chmod 755 "$MNT"
	(umask 077 && echo "HIV positive: J. Roe" >"$MNT/old.txt")
	unmount_vault
	mount_vault -o allow_other,iattr
	echo x >"$MNT/new.txt"
	chmod 0666 "$MNT/new.txt"
	chown 65534:65534 "$MNT/new.txt"
	O=$(backing_of old.txt)
	N=$(backing_of new.txt)
	unmount_vault
	[ -z "$(attr_of "$O")" ]
	set_attr "$O" "$(attr_of "$N")"
	mount_logged -o allow_other,iattr
	run as_nobody cat "$MNT/old.txt"
	[ "$status" -ne 0 ]
	[[ "$output" != *"J. Roe"* ]]
	# After the refusal the header's record is served.
	sleep 1.2 # the kernel's attribute cache (attr_timeout 1 s)
	[ "$(stat -c %a:%u "$MNT/old.txt")" = 600:0 ]
	run as_nobody cat "$MNT/old.txt"
	[ "$status" -ne 0 ]
	[ "$(cat "$MNT/old.txt")" = "HIV positive: J. Roe" ]
}

@test "iattr: O_TRUNC renews the file id and its attribute; rename and hard links keep it; rotation rewrites it" {
	mount_vault -o iattr
	echo one >"$MNT/f"
	chmod 0640 "$MNT/f"
	B=$(backing_of f)
	id1=$(head -c 32 "$B" | tail -c 16 | od -An -tx1 | tr -d ' \n')
	echo two >"$MNT/f" # O_TRUNC: a fresh file id
	id2=$(head -c 32 "$B" | tail -c 16 | od -An -tx1 | tr -d ' \n')
	[ "$id1" != "$id2" ]
	[ "$(attr_of "$B" | cut -c13-36)" = "${id2:0:24}" ]
	mv "$MNT/f" "$MNT/g"
	ln "$MNT/g" "$MNT/h"
	[ "$(stat -c %a "$MNT/h")" = 640 ]
	# A file made without the option gets one at the rotation.
	unmount_vault
	mount_vault -o noiattr
	echo old >"$MNT/o"
	chmod 0604 "$MNT/o"
	unmount_vault
	mount_vault -o iattr
	[ -z "$(attr_of "$(backing_of o)")" ]
	"$LETHEFS" rotate --wait "$MNT"
	[ "$(attr_of "$(backing_of g)" | cut -c5-12)" = 02000000 ] # epoch 2
	[ "$(attr_of "$(backing_of o)" | cut -c5-12)" = 02000000 ]
	unmount_vault
	mount_vault
	[ "$(stat -c %a "$MNT/g")" = 640 ]
	[ "$(stat -c %a "$MNT/o")" = 604 ]
	[ "$(cat "$MNT/g")" = two ]
	[ "$(cat "$MNT/o")" = old ]
	unmount_vault
	expect_fsck_clean
}

@test "attack: a swapped attribute does not let another user delete or rename a file in a sticky directory" {
	mount_vault -o allow_other,iattr
	chmod 755 "$MNT"
	mkdir -m 1777 "$MNT/shared"
	(umask 077 && echo "HIV positive: J. Roe" >"$MNT/shared/root.txt")
	as_nobody sh -c "echo mine >'$MNT/shared/nobody.txt'"
	P=$(backing_of shared/root.txt)
	Q=$(backing_of shared/nobody.txt)
	unmount_vault
	ap=$(attr_of "$P")
	set_attr "$P" "$(attr_of "$Q")"
	set_attr "$Q" "$ap"
	mount_vault -o allow_other,iattr
	# The lookup serves the swapped owner: nobody seems to own root.txt.
	[ "$(stat -c %u "$MNT/shared/root.txt")" = 65534 ]
	run as_nobody rm -f "$MNT/shared/root.txt"
	[ "$status" -ne 0 ]
	run as_nobody mv "$MNT/shared/root.txt" "$MNT/shared/moved.txt"
	[ "$status" -ne 0 ]
	[ -e "$P" ]
	[ "$(cat "$MNT/shared/nobody.txt" 2>&1)" != mine ] || false # swapped: refused
	run as_nobody rm -f "$MNT/shared/nobody.txt" # its own, shown as root's
	[ "$status" -ne 0 ]
}

@test "attack: an empty file planted under a name keeps the xattr, and is still refused" {
	mount_vault -o iattr
	echo data >"$MNT/c"
	C=$(backing_of c)
	unmount_vault
	: >"$C" # truncated in place: the attribute stays
	[ -n "$(attr_of "$C")" ]
	mount_vault -o iattr
	run stat "$MNT/c"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
}


# Whether this kernel has getxattrat(2) (Linux 6.13; 464 on x86_64).
have_getxattrat() {
	python3 - "$T" <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
class Args(ctypes.Structure):
    _fields_ = [("value", ctypes.c_uint64), ("size", ctypes.c_uint32), ("flags", ctypes.c_uint32)]
buf = ctypes.create_string_buffer(8)
a = Args(ctypes.addressof(buf), 8, 0)
r = libc.syscall(464, -100, sys.argv[1].encode(), 0x100, b"user.none", ctypes.byref(a),
                 ctypes.sizeof(a))
sys.exit(1 if r < 0 and ctypes.get_errno() == 38 else 0)
PY
}

@test "iattr: lookups read the attribute by name (getxattrat) where the kernel has it, else through /proc; never the header" {
	command -v strace >/dev/null || skip "strace missing (scripts/install-deps.sh test)"
	[ "$(uname -m)" = x86_64 ] || skip "the syscall number is checked on x86_64 only"
	mount_vault -o iattr
	mkdir "$MNT/d"
	for i in 1 2 3 4 5 6; do
		echo "$i" >"$MNT/d/f$i"
		chmod "06${i}0" "$MNT/d/f$i"
	done
	unmount_vault
	have=0
	have_getxattrat && have=1
	for way in name proc; do
		if [ "$way" = proc ]; then
			LETHEFS_NO_XATTRAT=1 mount_vault -o iattr
		else
			mount_vault -o iattr
		fi
		pid=$(pgrep -f "lethefs mount .*$VAULT" | head -n1)
		[ -n "$pid" ]
		stat "$MNT/d" >/dev/null
		# -ff: one file per thread, so that no call is split into
		# "<unfinished ...>" and "resumed>" lines by another thread's.
		strace -ff -qq -o "$T/trace.$way" -p "$pid" &
		spid=$!
		sleep 1
		for i in 1 2 3 4 5 6; do [ "$(stat -c %a "$MNT/d/f$i")" = "6${i}0" ]; done
		sleep 0.5
		kill -INT "$spid"
		wait "$spid" || true
		unmount_vault
		# 68 bytes: 0x44 where strace does not know the call by name.
		cat "$T/trace.$way".* >"$T/trace.$way"
		at=$(grep -cE '(syscall_0x1d0|getxattrat)\(.*= (68|0x44)$' "$T/trace.$way" || true)
		proc=$(grep -cE 'getxattr\("/proc/self/fd/[0-9]+", "user.l".*= 68$' "$T/trace.$way" || true)
		reads=$(grep -c 'pread64(' "$T/trace.$way" || true)
		echo "# $way (kernel has getxattrat: $have): $at by name, $proc through /proc, $reads reads" >&3
		[ "$reads" -eq 0 ]
		if [ "$way" = name ] && [ "$have" = 1 ]; then
			[ "$at" -eq 6 ]
			[ "$proc" -eq 0 ]
		else
			[ "$at" -eq 0 ]
			[ "$proc" -eq 6 ]
		fi
	done
	# A swapped attribute is caught by what acts on the file, either way.
	mount_vault -o iattr
	P=$(backing_of d/f1)
	Q=$(backing_of d/f2)
	unmount_vault
	ap=$(attr_of "$P")
	set_attr "$P" "$(attr_of "$Q")"
	set_attr "$Q" "$ap"
	for way in name proc; do
		if [ "$way" = proc ]; then
			LETHEFS_NO_XATTRAT=1 mount_vault -o iattr
		else
			mount_vault -o iattr
		fi
		[ "$(stat -c %a "$MNT/d/f1")" = 620 ] # the lookup serves it unbound
		run cat "$MNT/d/f1"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Input/output error"* ]]
		unmount_vault
	done
}

# A lookup opens the name, then reads its attribute by name (getxattrat):
# a rename through the mount between the two put another file's attribute
# on the inode, and every later operation on the file failed with EIO until
# the kernel forgot it. gdb holds the daemon at the read while the backing
# name is renamed over (as the mount's rename would do it).
lookup_raced_by_rename() { # mode of A, mode of B -> $T/cat.out: the reads
	mount_vault -o iattr
	echo AAAA >"$MNT/A"
	echo BBBB >"$MNT/B"
	chmod "$1" "$MNT/A"
	chmod "$2" "$MNT/B"
	local pa pb pid i
	pa=$(backing_of A)
	pb=$(backing_of B)
	unmount_vault
	mount_vault -o iattr
	pid=$(pgrep -f "lethefs mount .*$VAULT" | head -n1)
	timeout 30 gdb -p "$pid" -batch -ex 'catch syscall 464' -ex continue \
		-ex "shell mv $pb $pa" -ex detach >"$T/gdb.log" 2>&1 &
	local gpid=$!
	for i in $(seq 100); do
		grep -q '^TracerPid:	[1-9]' "/proc/$pid/status" && break
		sleep 0.1
	done
	sleep 0.5 # gdb inserts its catchpoint after attaching
	: >"$T/cat.out"
	for i in 1 2; do cat "$MNT/A" >>"$T/cat.out" 2>&1 || echo "rc $?" >>"$T/cat.out"; done
	wait "$gpid" || true
	cat "$T/gdb.log"
	grep -q 'hit Catchpoint 1' "$T/gdb.log" # the race was made
	cat "$T/cat.out"
}

@test "iattr: a rename between a lookup's open and its by-name read: the file is served as itself, refused at most once" {
	command -v gdb >/dev/null || skip "gdb missing (scripts/install-deps.sh test)"
	have_getxattrat || skip "the kernel has no getxattrat: lookups read through the descriptor"
	# The same mode: nothing was granted wrongly, nothing refused.
	lookup_raced_by_rename 644 644
	[ "$(cat "$T/cat.out")" = "$(printf 'AAAA\nAAAA')" ]
	teardown_vault # (its temporary directory too: setup_vault makes a new one)
	setup_vault
	# Another mode was served: refused once (the kernel may have granted
	# by it), then served as it is.
	lookup_raced_by_rename 640 604
	grep -q 'Input/output error' "$T/cat.out"
	[ "$(tail -n 1 "$T/cat.out")" = AAAA ]
}
