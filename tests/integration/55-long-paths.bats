#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A vault and a mount point with long paths (each below PATH_MAX). The
# status answer holds both paths, the control socket's and the
# fuse_requests counters within LFS_CTL_RESPONSE_MAX (4096) bytes: past
# that the daemon answers "status does not fit". lethefs umount asked the
# status only for the daemon's pid, and so could not unmount such a mount.

load helpers

# A directory under $T whose path is about $1 characters long.
long_dir() {
	local d=$T/l
	while [ ${#d} -lt "$1" ]; do d=$d/$(printf 'p%.0s' $(seq 200)); done
	mkdir -p "$d"
	echo "$d"
}

setup() {
	setup_vault
	local base
	base=$(long_dir 1500)
	mv "$VAULT" "$base/vault"
	VAULT=$base/vault
	MNT=$(long_dir 1700)/mnt
	mkdir -p "$MNT"
}

teardown() { teardown_vault; }

@test "a mount whose paths make the status too long for an answer still unmounts with lethefs umount" {
	mount_vault
	echo x >"$MNT/f"
	run "$LETHEFS" status --json "$MNT"
	echo "$output" | cut -c1-200
	[[ "$output" == *"does not fit"* ]] || skip "the status fits (shorter paths than planned)"
	run timeout -s KILL 120 "$LETHEFS" umount "$MNT"
	echo "$output" | cut -c1-300
	[ "$status" -eq 0 ]
	run is_mounted
	[ "$status" -ne 0 ]
	# The daemon is gone too (umount waits for it).
	run pgrep -f "lethefs mount .*$VAULT"
	[ "$status" -ne 0 ]
}
