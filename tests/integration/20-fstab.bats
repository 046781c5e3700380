#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# mount(8) and fstab: mount.fuse3 calls "lethefs VAULT MOUNTPOINT -o OPTS".
# mount(8) runs helpers with a fixed PATH, so each test runs in a mount
# namespace of its own where /usr/local/sbin holds a link to the binary
# under test: nothing is installed on the host.

load helpers

setup() {
	setup_vault
	mkdir -p "$T/sbin"
	ln -s "$(readlink -f "$LETHEFS")" "$T/sbin/lethefs"
}
teardown() {
	for _ in $(seq 50); do
		pgrep -f "lethefs $VAULT" >/dev/null || break
		sleep 0.1
	done
	if pgrep -f "lethefs $VAULT" >/dev/null; then
		# Its namespace lives as long as it does: stop it, then fail.
		pkill -f "lethefs $VAULT"
		echo "daemon left behind" >&2
		return 1
	fi
	teardown_vault
}

# Runs a shell script in a private mount namespace with the binary in
# mount's PATH.
in_namespace() {
	unshare -m --propagation private sh -ec "
		trap 'umount -l \"$MNT\" 2>/dev/null || true' EXIT
		mount --bind '$T/sbin' /usr/local/sbin
		$1"
}

@test "an fstab line mounts locked through mount.fuse3; unlock, use, umount" {
	printf '%s %s fuse.lethefs locked,nofail,_netdev 0 0\n' "$VAULT" "$MNT" >"$T/fstab"
	run in_namespace "
		mount -T '$T/fstab' '$MNT'
		grep ' $MNT fuse.lethefs ' /proc/self/mounts
		'$LETHEFS' status '$MNT' | head -n 1
		! ls '$MNT' 2>/dev/null || false
		'$LETHEFS' unlock --passfile '$T/pass' '$MNT'
		echo via-fstab >'$MNT/f'
		cat '$MNT/f'
		umount '$MNT'"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$MNT: locked"* ]]
	for _ in $(seq 50); do pgrep -f "lethefs $VAULT" >/dev/null || break; sleep 0.1; done
	[[ "$output" == *via-fstab* ]]
	# The file went through the real mount into the vault.
	"$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$(cat "$MNT/f")" = via-fstab ]
	unmount_vault
}

@test "mount -t fuse.lethefs with passfile= and allow_other mounts unlocked" {
	chmod 755 "$T"
	run in_namespace "
		mount -t fuse.lethefs -o passfile='$T/pass',allow_other '$VAULT' '$MNT'
		chmod 755 '$MNT'
		echo unlocked-at-mount >'$MNT/g'
		runuser -u nobody -- stat '$MNT/g' >/dev/null
		'$LETHEFS' status --json '$MNT'
		umount '$MNT'"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"state":"unlocked"'* ]]
}

@test "nofail: a missing vault fails its own line, mount -a mounts the others" {
	mkdir -p "$T/mnt2"
	printf '%s %s fuse.lethefs locked,nofail 0 0\n%s %s fuse.lethefs locked,nofail 0 0\n' \
		"$T/no-such-vault" "$T/mnt2" "$VAULT" "$MNT" >"$T/fstab"
	run in_namespace "
		rc=0; mount -a -T '$T/fstab' || rc=\$?
		echo mount-a=\$rc
		grep -c ' fuse.lethefs ' /proc/self/mounts
		umount '$MNT'"
	echo "$output"
	[ "$status" -eq 0 ]
	# util-linux: 64 = some mounts succeeded; the vault that exists is mounted.
	[[ "$output" == *"mount-a=64"* ]]
	[[ "$output" == *"cannot open vault $T/no-such-vault"* ]]
}

@test "a mistyped fstab option is named before any secret is asked (not 'no terminal')" {
	# lockd for locked: without the typo this line would ask for a
	# passphrase, and there is no terminal at boot.
	printf '%s %s fuse.lethefs lockd,nofail 0 0\n' "$VAULT" "$MNT" >"$T/fstab"
	run in_namespace "mount -T '$T/fstab' '$MNT' </dev/null"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"unknown mount option 'lockd'"* ]]
	[[ "$output" != *"terminal"* ]]
	# The same through lethefs mount: a usage error, exit 2, even with a
	# secret source that would work.
	run "$LETHEFS" mount --passfile "$T/pass" -o noatime,lockd "$VAULT" "$MNT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown mount option 'lockd'"* ]]
	! mountpoint -q "$MNT" || return 1
	# Options libfuse and the kernel know still pass, as do mount(8)'s and
	# systemd's own.
	"$LETHEFS" mount --passfile "$T/pass" \
		-o noatime,dirsync,default_permissions,nofail,x-systemd.before=a.service,_netdev \
		"$VAULT" "$MNT"
	grep " $MNT fuse.lethefs .*noatime" /proc/self/mounts
	unmount_vault
}
