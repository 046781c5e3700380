#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Other users: refused without allow_other; with it, the kernel enforces
# file modes (default_permissions) and new files belong to their creator.

load helpers

setup() {
	id lfssa-it >/dev/null 2>&1 || useradd -M -s /bin/sh lfssa-it
	setup_vault
	chmod 755 "$T"
}
teardown() { teardown_vault; }
# The users made for these tests go with them (useradd also made each a
# group of its own, which userdel removes).
teardown_file() {
	for u in lfssa-it; do userdel "$u" 2>/dev/null || true; done
}

as_user() { runuser -u lfssa-it -- sh -c "$1"; }

@test "without allow_other another user cannot enter the mount" {
	mount_vault
	run as_user "ls '$MNT'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
}

@test "with allow_other modes are enforced and new files belong to their creator" {
	mount_vault -o allow_other
	chmod 1777 "$MNT"
	echo secret >"$MNT/root-only"
	chmod 600 "$MNT/root-only"
	run as_user "cat '$MNT/root-only'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	as_user "echo mine > '$MNT/user-file'; mkdir '$MNT/user-dir'"
	[ "$(stat -c %U "$MNT/user-file")" = lfssa-it ]
	[ "$(stat -c %U "$MNT/user-dir")" = lfssa-it ]
	[ "$(as_user "cat '$MNT/user-file'")" = mine ]
	if [ "$(vault_format)" = 1 ]; then
		# Ownership lands on the backing file too (it is what the mount shows).
		[ "$(stat -c %U "$(backing_of user-file)")" = lfssa-it ]
	else
		# Format 2: it is in the file's record; the backing file is the
		# daemon's, 0600, and tells the storage nothing.
		[ "$(stat -c %U:%a "$(backing_of user-file)")" = root:600 ]
	fi
}
