# SPDX-License-Identifier: Apache-2.0
# Helpers of the attacks on shared write-behind (59-shared-writebehind-
# attack*.bats): a vault on a small tmpfs, filling it, and a writer that
# reports which call failed (daemon_pid and fsck_clean: helpers.bash).

# One user per bats file (its process id): both attack files load this
# one, run in parallel lanes, and each teardown removes its own user only
# (a shared name let one file's teardown delete the other's user mid-test).
U=wb16rev-u$$

setup() {
	setup_vault
}

teardown() {
	if [ -n "${HOSTS_DIR:-}" ]; then
		hosts_stop "lethefs mount .*$VAULT" rvA rvB || true
	fi
	unmount_vault || true
	if [ -n "${SMALL:-}" ] && mountpoint -q "$SMALL"; then
		umount "$SMALL" || umount -l "$SMALL"
	fi
	if id "$U" >/dev/null 2>&1; then
		userdel "$U" 2>/dev/null
		getent group "$U" >/dev/null && groupdel "$U" 2>/dev/null
	fi
	teardown_vault
}

# Fills the small disk through the mount until less than $1 KiB is left.
fill_to() {
	local free
	free=$(($(stat -f -c '%a*%S' "$SMALL") / 1024))
	if [ "$free" -gt "$1" ]; then
		dd if=/dev/zero of="$MNT/filler" bs=1k count=$((free - $1)) status=none 2>/dev/null || true
		sync "$MNT/filler" 2>/dev/null || true
	fi
}

# Writes $2 KiB in 64 KiB writes to $1, then $3 (close, fsync); prints
# what happened: "write N errno", "fsync ok|errno" (twice), "close ok|errno".
err_writer() {
	python3 "$BATS_TEST_DIRNAME/err_writer.py" "$@"
}
