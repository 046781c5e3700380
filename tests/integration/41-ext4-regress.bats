#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Regression tests for the divergences from ext4 that the differential tester
# (40-difftest.bats) found. Each runs the same commands, as the same users,
# in a plain directory ($REF) and through the mount, and compares.

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

# Runs python code as user $1 with D set to the tree's directory, in both
# trees, and prints "stat" lines of the given paths for each.
both() { # user code paths...
	local user=$1 code=$2
	shift 2
	for d in "$REF" "$MNT"; do
		setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
			/usr/bin/python3 -c "import os; os.umask(0o022); D='$d'; $code"
		(cd "$d" && stat -c '%n %A %U %G' "$@")
	done
}

# Fails unless the two halves of both()'s output agree.
agree() {
	local n=$(($(printf '%s\n' "$1" | wc -l) / 2))
	local ref mnt
	ref=$(printf '%s\n' "$1" | head -n "$n")
	mnt=$(printf '%s\n' "$1" | tail -n "$n")
	echo "plain:   $ref"
	echo "lethefs: $mnt"
	[ "$ref" = "$mnt" ]
}

@test "a non-root user's new file keeps the set-user-ID bit it asked for" {
	chmod 1777 "$REF" "$MNT"
	out=$(both lfspx-a "os.close(os.open(D + '/f', os.O_CREAT | os.O_WRONLY, 0o4755))" f)
	agree "$out"
	[[ "$out" == *"f -rwsr-xr-x lfspx-a lfspx-g1"* ]]
}

@test "open(O_TRUNC) by the owner clears set-user-ID and set-group-ID" {
	for d in "$REF" "$MNT"; do
		echo data >"$d/f"
		chown lfspx-a:lfspx-g1 "$d/f"
		chmod 6755 "$d/f"
	done
	out=$(both lfspx-a "os.close(os.open(D + '/f', os.O_WRONLY | os.O_TRUNC))" f)
	agree "$out"
	[[ "$out" == *"f -rwxr-xr-x"* ]]
}

# Not a divergence found (lethefs already agreed): a guard for the change
# that leaves set-ID clearing to the kernel.
@test "a write by another user clears set-user-ID" {
	for d in "$REF" "$MNT"; do
		echo data >"$d/f"
		chmod 4777 "$d/f"
	done
	out=$(both lfspx-a "fd = os.open(D + '/f', os.O_WRONLY | os.O_APPEND); os.write(fd, b'x'); os.close(fd)" f)
	agree "$out"
	[[ "$out" == *"f -rwxrwxrwx root root"* ]]
}

@test "new entries in a set-group-ID directory take its group (and directories the bit)" {
	for d in "$REF" "$MNT"; do
		mkdir "$d/shared"
		chgrp lfspx-g2 "$d/shared"
		chmod 2777 "$d/shared"
	done
	out=$(both lfspx-a "os.close(os.open(D + '/shared/f', os.O_CREAT | os.O_WRONLY, 0o644)); os.mkdir(D + '/shared/sub', 0o755); os.mkfifo(D + '/shared/p')" shared/f shared/sub shared/p)
	agree "$out"
	[[ "$out" == *"shared/sub drwxr-sr-x lfspx-a lfspx-g2"* ]]
}
