#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# POSIX ACLs, on by default as on ext4: setfacl/getfacl, default ACLs,
# enforcement for other users, chmod, cp -a, rsync -A and tar --acls, kept
# across remount and rotation, stored encrypted; -o noacl refuses them.
# Each result is compared with a plain directory ($REF).

load helpers

setup_file() {
	groupadd -f lfspx-g1
	groupadd -f lfspx-g2
	id lfspx-a >/dev/null 2>&1 || useradd -M -N -g lfspx-g1 -s /usr/sbin/nologin lfspx-a
	id lfspx-b >/dev/null 2>&1 || useradd -M -N -g lfspx-g1 -s /usr/sbin/nologin lfspx-b
}

teardown_file() {
	for u in lfspx-a lfspx-b; do userdel "$u" 2>/dev/null || true; done
	for g in lfspx-g1 lfspx-g2; do groupdel "$g" 2>/dev/null || true; done
}

setup() {
	setup_vault
	chmod 755 "$T"
	mount_vault -o allow_other
	chmod 755 "$MNT" "$REF"
}
teardown() { teardown_vault; }

as() { # user command...
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"
}

# getfacl of every object below the given relative paths, in name order.
acls_of() { # root paths...
	local root=$1
	shift
	(cd "$root" && find "$@" | sort | while read -r p; do getfacl -p "$p" 2>&1; done)
}

# getfacl of relative paths in both trees must agree.
same_acls() {
	local a b
	a=$(acls_of "$REF" "$@")
	b=$(acls_of "$MNT" "$@")
	[ "$a" = "$b" ] || {
		diff <(echo "$a") <(echo "$b")
		return 1
	}
}

@test "setfacl/getfacl, chmod and removal behave as on a plain directory" {
	for d in "$REF" "$MNT"; do
		echo data >"$d/f"
		chmod 640 "$d/f"
		setfacl -m u:lfspx-a:rw,g:lfspx-g2:r "$d/f"
		mkdir "$d/same"
		setfacl -m u::rwx,g::r-x,o::--- "$d/same" # the mode can say it: no ACL stored
		echo x >"$d/m"
		setfacl -m u:lfspx-b:rwx "$d/m"
		chmod 604 "$d/m" # the mask follows the group bits
	done
	same_acls f same m
	[ "$(stat -c %A "$MNT/f")" = "$(stat -c %A "$REF/f")" ]
	[ "$(stat -c %A "$MNT/same")" = drwxr-x--- ]
	[ -z "$(getfattr -m system -d "$MNT/same" 2>/dev/null)" ]
	for d in "$REF" "$MNT"; do setfacl -x u:lfspx-a "$d/f"; done
	same_acls f
	for d in "$REF" "$MNT"; do setfacl -b "$d/f" "$d/m"; done
	same_acls f m
	[ "$(ls -l "$MNT/f" | cut -c1-11)" = "$(ls -l "$REF/f" | cut -c1-11)" ]
}

@test "a user granted access only by an ACL gets it; others do not" {
	for d in "$REF" "$MNT"; do
		echo secret >"$d/f"
		chmod 600 "$d/f"
		mkdir "$d/dir"
		chmod 700 "$d/dir"
		touch "$d/dir/inside"
	done
	run as lfspx-a cat "$MNT/f"
	[ "$status" -ne 0 ]
	for d in "$REF" "$MNT"; do
		setfacl -m u:lfspx-a:r "$d/f"
		setfacl -m g:lfspx-g1:rx "$d/dir"
	done
	[ "$(as lfspx-a cat "$MNT/f")" = secret ]
	run as lfspx-a sh -c "echo more >>'$MNT/f'"
	[ "$status" -ne 0 ]
	run as lfspx-b cat "$MNT/f"
	[ "$status" -ne 0 ]
	[ "$(as lfspx-b ls "$MNT/dir")" = inside ] # by group lfspx-g1
	# The mask limits the grant, as everywhere.
	for d in "$REF" "$MNT"; do chmod 600 "$d/f"; done
	run as lfspx-a cat "$MNT/f"
	[ "$status" -ne 0 ]
	run as lfspx-a cat "$REF/f"
	[ "$status" -ne 0 ]
}

@test "default ACLs are inherited by new files and directories (the umask does not apply)" {
	for d in "$REF" "$MNT"; do
		mkdir "$d/share"
		setfacl -d -m g:lfspx-g2:rwx,o::- "$d/share"
		setfacl -m o::rwx "$d/share"
	done
	for um in 022 077; do
		for d in "$REF" "$MNT"; do
			as lfspx-a sh -c "umask $um; touch '$d/share/f$um'; mkdir '$d/share/d$um'; mkdir -p '$d/share/d$um/deeper'"
			(umask $um && mkdir "$d/plain$um" && touch "$d/plain$um/f")
		done
	done
	same_acls share plain022 plain077
	[ "$(cd "$MNT" && find . -printf '%M %u %g %p\n' | sort)" = "$(cd "$REF" && find . -printf '%M %u %g %p\n' | sort)" ]
}

@test "ACLs are kept across remount and a key rotation, and stored encrypted" {
	for d in "$REF" "$MNT"; do
		touch "$d/f" # empty: rotation used to skip the xattrs of empty files
		echo data >"$d/g"
		setfacl -m g:lfspx-g2:rwx "$d/g"
		setfacl -m u:lfspx-a:rw "$d/f"
		mkdir "$d/d"
		setfacl -d -m u:lfspx-b:rx "$d/d"
	done
	unmount_vault
	# Only encrypted user.* names in the backing store.
	[ -z "$(getfattr -R -m - -d "$VAULT/d" 2>/dev/null | grep -v '^user\.' | grep -v '^#' | grep -v '^$')" ]
	[ -n "$(getfattr -R -m - -d "$VAULT/d" 2>/dev/null | grep '^user\.')" ]
	assert_not_in_backing posix_acl
	mount_vault -o allow_other
	same_acls f g d
	"$LETHEFS" rotate --wait "$MNT"
	unmount_vault
	mount_vault -o allow_other
	same_acls f g d
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
}

@test "cp -a, rsync -A and tar --acls round-trip ACLs into and out of the mount" {
	mkdir -p "$REF/src/sub"
	echo a >"$REF/src/f"
	setfacl -m u:lfspx-a:rw,g:lfspx-g2:r "$REF/src/f"
	setfacl -d -m u:lfspx-b:rwx "$REF/src/sub"
	setfacl -m u:lfspx-b:rx "$REF/src/sub"
	ref=$(acls_of "$REF/src" .)
	cp -a "$REF/src" "$MNT/cp"
	[ "$(acls_of "$MNT/cp" .)" = "$ref" ]
	rsync -aA "$REF/src/" "$MNT/rs/"
	[ "$(acls_of "$MNT/rs" .)" = "$ref" ]
	tar --acls -C "$REF/src" -cf "$T/a.tar" .
	mkdir "$MNT/tar"
	tar --acls -C "$MNT/tar" -xf "$T/a.tar"
	[ "$(acls_of "$MNT/tar" .)" = "$ref" ]
	# And out again.
	mkdir "$T/out"
	rsync -aA "$MNT/rs/" "$T/out/rs/"
	cp -a "$MNT/cp" "$T/out/cp"
	[ "$(acls_of "$T/out/rs" .)" = "$ref" ]
	[ "$(acls_of "$T/out/cp" .)" = "$ref" ]
}

@test "an altered stored ACL is EIO, not a silent loss of the grant" {
	touch "$MNT/f"
	setfacl -m u:lfspx-a:rw "$MNT/f"
	unmount_vault
	b=$(find "$VAULT/d" -type f -name '[A-Za-z0-9_-]*' | head -n1)
	python3 - "$b" <<'PY'
import os, sys
p = sys.argv[1]
(name,) = [n for n in os.listxattr(p) if n.startswith("user.") and n != "user.l"]  # user.l: the inode attribute
v = bytearray(os.getxattr(p, name))
v[30] ^= 1
os.setxattr(p, name, bytes(v))
PY
	mount_vault -o allow_other
	run getfacl "$MNT/f"
	[ "$status" -ne 0 ]
	run as lfspx-a cat "$MNT/f"
	[ "$status" -ne 0 ]
}

@test "-o noacl refuses ACLs (EOPNOTSUPP) and ignores stored ones" {
	touch "$MNT/f"
	setfacl -m u:lfspx-a:r "$MNT/f"
	chmod 600 "$MNT/f"
	unmount_vault
	mount_vault -o allow_other,noacl
	run setfacl -m u:lfspx-b:r "$MNT/f"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not supported"* ]]
	[ -z "$(getfattr -m - -d "$MNT/f" 2>/dev/null)" ]
	run as lfspx-a cat "$MNT/f"
	[ "$status" -ne 0 ]
	# umask applies as before
	(umask 077 && touch "$MNT/g")
	[ "$(stat -c %a "$MNT/g")" = 600 ]
}

@test "ACLs inside a staging directory use its key and are kept across remount" {
	"$LETHEFS" stage create --ttl 1h "$MNT/job"
	chmod 755 "$MNT/job"
	echo data >"$MNT/job/f"
	setfacl -m u:lfspx-a:r "$MNT/job/f"
	setfacl -d -m u:lfspx-b:rx "$MNT/job"
	touch "$MNT/job/inherited"
	before=$(acls_of "$MNT/job" .)
	unmount_vault
	mount_vault -o allow_other
	[ "$(acls_of "$MNT/job" .)" = "$before" ]
	[[ "$before" == *"user:lfspx-b:r-x"* ]]
	[ "$(as lfspx-a cat "$MNT/job/f")" = data ]
}

# ls -l asks the kernel for every listed file's access ACL (one GETXATTR
# each); once it has asked, the lookups of a listing find out which files
# have none, on the listing's threads, and the GETXATTRs of those are
# answered from memory (fs/ops_acl.c, lfs_acl_learn). Files that have one
# must still show it, and a change after the listing must be seen.
@test "after a cache drop, ls -lR shows each file's ACL as stored, also once the lookups learned which have none" {
	mkdir "$MNT/d" "$REF/d"
	for root in "$MNT" "$REF"; do
		for i in $(seq 1 60); do
			echo "$i" >"$root/d/f$i"
			if ((i % 3 == 0)); then setfacl -m u:lfspx-a:r "$root/d/f$i"; fi
		done
		mkdir "$root/d/sub"
		setfacl -d -m u:lfspx-b:rx "$root/d/sub"
	done
	for pass in 1 2 3; do
		sync
		echo 3 >/proc/sys/vm/drop_caches
		# Pass 1 makes the kernel ask (the mount then learns in the
		# listings of passes 2 and 3).
		diff <(cd "$MNT" && ls -lR d | awk '$1 != "total" { print $1, $NF }') \
			<(cd "$REF" && ls -lR d | awk '$1 != "total" { print $1, $NF }')
		diff <(acls_of "$MNT" d) <(acls_of "$REF" d)
	done
	# A file learned to have none gets one through the mount: seen at once.
	setfacl -m u:lfspx-b:rw "$MNT/d/f1"
	setfacl -m u:lfspx-b:rw "$REF/d/f1"
	diff <(cd "$MNT" && ls -l d | awk '$1 != "total" { print $1, $NF }') <(cd "$REF" && ls -l d | awk '$1 != "total" { print $1, $NF }')
	diff <(acls_of "$MNT" d) <(acls_of "$REF" d)
}
