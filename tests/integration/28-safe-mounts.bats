#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Attacks through the backing store's node types and modes (issue 11):
# whoever can write the vault replaces a file's backing entry by a device
# node, or sets the setuid bit on a stored binary, under the same
# authenticated name. Every mount path, mount(8) and fstab included, must
# come up nosuid,nodev, and device nodes must not be served. Also: what a
# mount may be put over. mount(8) runs in a private mount namespace with
# the binary under test in its PATH, as in 20-fstab.bats.

load helpers

setup() {
	setup_vault
	chmod 755 "$T"
	mkdir -p "$T/sbin"
	ln -s "$(readlink -f "$LETHEFS")" "$T/sbin/lethefs"
}

teardown() {
	for _ in $(seq 50); do
		pgrep -f "lethefs $VAULT" >/dev/null || break
		sleep 0.1
	done
	mountpoint -q "$MNT" 2>/dev/null || [ ! -e "$MNT" ] || true
	umount -l "$MNT" 2>/dev/null || true
	teardown_vault
}

in_namespace() {
	unshare -m --propagation private sh -ec "
		trap 'umount -l \"$MNT\" 2>/dev/null || true' EXIT
		mount --bind '$T/sbin' /usr/local/sbin
		$1"
}

fstab_mount() { # extra options
	echo "mount -t fuse.lethefs -o passfile='$T/pass',allow_other$1 '$VAULT' '$MNT'; chmod 755 '$MNT'"
}

@test "attack: a device node planted under a file's name is not readable through an fstab-style mount" {
	mount_vault
	echo "lab result" >"$MNT/f"
	B=$(backing_of f)
	unmount_vault
	mv "$B" "$T/aside"
	mknod -m 666 "$B" c 1 5 # /dev/zero
	run in_namespace "
		$(fstab_mount)
		grep ' $MNT ' /proc/self/mountinfo
		if head -c 4 '$MNT/f' >/dev/null 2>&1; then echo ROOT-READ; fi
		if runuser -u nobody -- head -c 4 '$MNT/f' >/dev/null 2>&1; then echo USER-READ; fi
		umount '$MNT'"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"nosuid,nodev"* ]]
	[[ "$output" != *"-READ"* ]]
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"/f"*"character device node 1:5"* ]]
	if [ "$(vault_format)" = 1 ]; then
		# Positive control: asked for, device nodes are served.
		"$LETHEFS" mount --passfile "$T/pass" -o allow_dev "$VAULT" "$MNT"
		[ "$(stat -c %F "$MNT/f")" = "character special file" ]
		[ "$(head -c 4 "$MNT/f" | od -An -tx1 | tr -d ' ')" = 00000000 ]
	else
		# Format 2 accepts no device node from the backing store, even
		# with -o allow_dev: the object has no record.
		[[ "$output" == *"/f: backing character device where only format 2 may be"* ]]
		"$LETHEFS" mount --passfile "$T/pass" -o allow_dev "$VAULT" "$MNT"
		run stat -c %F "$MNT/f"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Input/output error"* ]]
	fi
}

@test "the daemon itself refuses a planted device node (EACCES, logged) and makes none" {
	mount_vault
	echo x >"$MNT/f"
	B=$(backing_of f)
	unmount_vault
	rm "$B"
	mknod -m 666 "$B" b 7 0
	mount_logged
	# The kernel's nodev only stops open; the daemon does not even serve it.
	run stat "$MNT/f"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	grep -q "is a device node (7:0): refused" "$T/daemon.log"
	run mknod "$MNT/newdev" c 1 3
	[ "$status" -ne 0 ]
}

@test "attack: a planted setuid binary does not run setuid through an fstab-style mount" {
	mount_vault
	cp /usr/bin/id "$MNT/id"
	B=$(backing_of id)
	unmount_vault
	chown root:root "$B"
	chmod 6755 "$B"
	run in_namespace "
		$(fstab_mount)
		ls -l '$MNT/id'
		runuser -u nobody -- '$MNT/id' -u
		umount '$MNT'"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == "65534" ]]
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 6 ]
	[[ "$output" == *"/id"*"setuid"* ]]
}

@test "every mount path is nosuid,nodev unless allow_suid/allow_dev are given" {
	mount_vault
	grep " $MNT " /proc/self/mountinfo | grep -q "nosuid,nodev"
	unmount_vault
	run in_namespace "
		mount -t fuse.lethefs -o passfile='$T/pass',suid,dev '$VAULT' '$MNT'
		grep ' $MNT ' /proc/self/mountinfo
		umount '$MNT'
		mount -t fuse.lethefs -o passfile='$T/pass',allow_suid,allow_dev '$VAULT' '$MNT'
		grep ' $MNT ' /proc/self/mountinfo
		umount '$MNT'"
	echo "$output"
	[ "$status" -eq 0 ]
	# mount.fuse3 adds suid,dev to every mount: only the explicit names count.
	[[ "${lines[0]}" == *" rw,nosuid,nodev,"* ]]
	[[ "${lines[1]}" != *"nosuid"* && "${lines[1]}" != *"nodev"* ]]
	mount_vault -o suid
	! grep " $MNT " /proc/self/mountinfo | grep -q "nosuid" || false
}

@test "a non-empty mountpoint, or one that carries a mount, is refused unless -o nonempty" {
	touch "$MNT/hidden"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"is not empty"* ]]
	assert_not_mounted "$MNT"
	mount_vault -o nonempty
	unmount_vault
	rm "$MNT/hidden"
	mount_vault
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/v2" 2>/dev/null
	run "$LETHEFS" mount --passfile "$T/pass" "$T/v2" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"already carries a mount"* ]]
	[ "$(grep -c " $MNT " /proc/self/mountinfo)" -eq 1 ]
}

@test "a dead mountpoint (its daemon killed) is refused with a clear error" {
	mount_logged
	pkill -9 -f "lethefs mount -f --passfile $T/pass $VAULT"
	for _ in $(seq 50); do
		ls "$MNT" >/dev/null 2>&1 || break
		sleep 0.1
	done
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"is a dead FUSE mount"*"umount -l"* ]]
	umount -l "$MNT"
}
