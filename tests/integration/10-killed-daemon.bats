#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A killed daemon loses nothing that was fsync'ed, and the vault mounts again
# with every name and block authentic.

load helpers

setup() {
	setup_vault
	mount_vault
}
teardown() { teardown_vault; }

@test "kill -9 of the daemon: synced data survives, remount works, fsck is clean" {
	head -c 3000000 /dev/urandom >"$T/data"
	mkdir -p "$MNT/dir/sub"
	cp "$T/data" "$MNT/dir/sub/file"
	long=$(printf 'L%.0s' $(seq 240))
	echo long >"$MNT/dir/$long"
	sync
	# Writes still in flight when the daemon dies may be lost, never garbled.
	dd if=/dev/urandom of="$MNT/inflight" bs=64k count=200 status=none &
	writer=$!
	sleep 0.2
	pkill -9 -f "lethefs mount .*$VAULT"
	wait "$writer" || true
	run ls "$MNT"
	echo "$output"
	[ "$status" -ne 0 ]
	# ENOTCONN, or ECONNABORTED for a request the kernel had already sent
	# when the daemon died.
	[[ "$output" == *"not connected"* || "$output" == *"connection abort"* ]]
	fusermount3 -u "$MNT" || umount -l "$MNT"
	mount_vault
	cmp "$T/data" "$MNT/dir/sub/file"
	[ "$(cat "$MNT/dir/$long")" = long ]
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	# The file being written when the daemon died may end in a block that
	# never made it to disk whole: fsck may report exactly that file, and
	# nothing else.
	if [ "$status" -ne 0 ]; then
		[ "$status" -eq 6 ]
		[ "$(grep -c '^CORRUPT' <<<"$output")" -eq 1 ]
		grep -q '^CORRUPT /inflight' <<<"$output"
	fi
}
