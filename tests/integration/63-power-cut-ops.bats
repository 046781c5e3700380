#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The operation sweep under power cuts (tests/fault/sweep.py --power-cut,
# docs/TESTING.md "Power cuts in the operation sweep"), a sample: two
# namespace operations at every call and a keyslot command at its quick
# cut points and after its success, seeds 1-4. `make powercut-ops` runs
# every operation.
#
# Each can fail: on a build without the fsync of a new directory's
# .lethefs.dir (fs/dirmeta.c), of a long name's sidecar (fs/dirnames.c)
# and of lfs_replace_file's temporary (common/fileutil.c), mkdir failed 4
# cuts of 24 (the directory gone or unreadable after mkdir and the fsync
# of its parent returned), longname-create 12 of 52 (a name that does not
# authenticate) and passwd 12 of 20 (no secret opens the vault, also
# after the command succeeded).

load helpers

FAULT=$BATS_TEST_DIRNAME/../fault
BUILD=$(dirname "$LETHEFS")

setup() {
	[ -e "$BUILD/tests/fault/faultshim.so" ] || skip "fault shim not built: run make test"
}

sweep() { # operation [sweep.py options...]
	local op=$1
	shift
	run python3 "$FAULT/sweep.py" --build "$BUILD" --power-cut --seeds 1-4 --ops "$op" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	# The cuts happened (a sweep that reaches nothing proves nothing).
	[[ "$output" =~ $op\ +[0-9]+\ calls\ +([0-9]+)\ cuts\ +0\ failing ]]
	[ "${BASH_REMATCH[1]}" -ge 16 ]
}

@test "power cut in mkdir + fsync of the parent, every call: the directory's metadata is durable before its name" {
	sweep mkdir
}

@test "power cut in a long-named file's create + write + fsync, every call: the sidecar is durable before the entry" {
	sweep longname-create
}

@test "power cut in lethefs passwd (its quick points and after its success): a secret always opens the vault" {
	sweep passwd --quick
}
