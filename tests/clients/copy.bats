#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# rsync -aHAXS and tar --xattrs --acls -S round trips through the mount.

load lib

setup() { setup_client_vault; }
teardown() { teardown_vault; }

@test "rsync -aHAXS round trip keeps every field ext4 keeps" {
	copy_roundtrip rsync
}

@test "tar --xattrs --acls -S round trip keeps every field ext4 keeps" {
	copy_roundtrip tar
}

@test "rsync -S and tar -S of a file still open for writing copy its data" {
	copy_live_file rsync
	copy_live_file tar
}
