#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Who may enter the mount root (issue 21): init --root-mode/--root-owner, the
# default (0700, the init user's), and the warning of mount -o allow_other on
# a root that only its owner may enter. Users lfscl-svc and lfscl-oth exist
# for the duration of each test.

load helpers

setup() {
	useradd -M -N -s /usr/sbin/nologin lfscl-svc
	useradd -M -N -s /usr/sbin/nologin lfscl-oth
	groupadd lfscl-grp
}
teardown() {
	local rc=0
	teardown_vault || rc=1
	userdel lfscl-svc 2>/dev/null || true
	userdel lfscl-oth 2>/dev/null || true
	groupdel lfscl-grp 2>/dev/null || true
	return $rc
}

# mktemp made $T 0700: the other users must be able to reach the mount.
open_t() { chmod 0711 "$T"; }

as() { setpriv --reuid "$1" --regid "$(id -g "$1")" --clear-groups -- "${@:2}"; }

@test "default: the mount root is 0700 and the init user's; allow_other warns with the fix" {
	setup_vault
	open_t
	run "$LETHEFS" mount --passfile "$T/pass" -o allow_other "$VAULT" "$MNT"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"warning: the mount root is mode 0700"* ]]
	[[ "$output" == *"chmod 0755 $MNT"* ]]
	[[ "$output" == *"--root-mode"* ]]
	[ "$(stat -c '%a %u' "$MNT")" = "700 0" ]
	run as lfscl-svc touch "$MNT/x"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	# The fix the warning names works on the live mount.
	chmod 0755 "$MNT"
	run as lfscl-svc ls "$MNT"
	[ "$status" -eq 0 ]
}

@test "no warning without allow_other, nor when group or others may enter, nor for a service's root" {
	setup_vault
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]]
	unmount_vault
	rm -rf "$T"
	INIT_ARGS=(--root-mode 0750)
	setup_vault
	run "$LETHEFS" mount --passfile "$T/pass" -o allow_other "$VAULT" "$MNT"
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]]
	unmount_vault
	rm -rf "$T"
	INIT_ARGS=(--root-owner lfscl-svc:lfscl-grp)
	setup_vault
	run "$LETHEFS" mount --passfile "$T/pass" -o allow_other "$VAULT" "$MNT"
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]]
}

@test "init --root-owner and --root-mode: a service account uses the mount, others stay out" {
	INIT_ARGS=(--root-owner lfscl-svc:lfscl-grp --root-mode 0750)
	setup_vault
	open_t
	mount_vault -o allow_other
	[ "$(stat -c '%a %U %G' "$MNT")" = "750 lfscl-svc lfscl-grp" ]
	# Format 2: that is the root's record (FORMAT.md 13); the backing d/
	# stays the daemon's, 0700, and what the backing store does to it
	# changes nothing.
	if [ "$(vault_format)" = 2 ]; then
		[ "$(stat -c '%a %u' "$VAULT/d")" = "700 0" ]
		chmod 0777 "$VAULT/d"
		unmount_vault
		mount_vault -o allow_other
		[ "$(stat -c '%a %U %G' "$MNT")" = "750 lfscl-svc lfscl-grp" ]
		chmod 0700 "$VAULT/d"
	fi
	as lfscl-svc mkdir "$MNT/data"
	as lfscl-svc sh -c "echo hello > '$MNT/data/f'"
	[ "$(stat -c %U "$MNT/data/f")" = lfscl-svc ]
	run as lfscl-oth ls "$MNT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	# Kept across a remount.
	unmount_vault
	mount_vault -o allow_other
	[ "$(as lfscl-svc cat "$MNT/data/f")" = hello ]
	# Numbers work as well as names.
	unmount_vault
	rm -rf "$T"
	INIT_ARGS=(--root-owner "$(id -u lfscl-oth):12345" --root-mode 1777)
	setup_vault
	mount_vault
	[ "$(stat -c '%a %u %g' "$MNT")" = "1777 $(id -u lfscl-oth) 12345" ]
}

@test "a bad --root-mode or --root-owner is a usage error and creates nothing" {
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	MNT=$T/mnt VAULT=$T/vault
	printf 'x\n' >"$T/pass"
	for bad in "--root-mode 999" "--root-mode u+x" "--root-mode 17777" "--root-mode ''" \
		"--root-owner lfscl-svc" "--root-owner nosuchuser-lfscl:root" \
		"--root-owner root:nosuchgroup-lfscl" "--root-owner :"; do
		eval "run \"\$LETHEFS\" init --passfile \"\$T/pass\" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M $bad \"\$VAULT\""
		echo "$bad -> $status: $output"
		[ "$status" -eq 2 ]
		[ ! -e "$VAULT" ]
	done
}
