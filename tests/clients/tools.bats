#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# git and fio on the mount (issue 21): clone, fsck --full and gc of a real
# repository; fio --verify with buffered and O_DIRECT I/O and with both kinds
# of handle on one file at once.

load lib

setup() { setup_client_vault; }
teardown() { teardown_vault; }

@test "git clone, git fsck --full and git gc of this repository" {
	command -v git >/dev/null || skip "git not installed"
	local src
	src=$(git -C "$BATS_TEST_DIRNAME" rev-parse --show-toplevel)
	git clone -q --no-local "$src" "$MNT/repo"
	git -C "$MNT/repo" fsck --full --strict 2>&1 | tee "$T/fsck.log"
	assert_no_match -iE 'error|missing|broken|corrupt' "$T/fsck.log"
	git -C "$MNT/repo" gc -q --aggressive --prune=now
	git -C "$MNT/repo" fsck --full --strict
	[ -z "$(git -C "$MNT/repo" status --porcelain)" ]
	[ "$(git -C "$MNT/repo" rev-parse HEAD)" = "$(git -C "$src" rev-parse HEAD)" ]
	# Clone back out of the mount and compare every object.
	git clone -q --no-local "$MNT/repo" "$T/back"
	[ "$(git -C "$T/back" rev-list --objects HEAD | sort | sha256sum)" = \
		"$(git -C "$MNT/repo" rev-list --objects HEAD | sort | sha256sum)" ]
	report "git clone/fsck --full/gc/clone back: $(git -C "$MNT/repo" rev-list --all --objects | wc -l) objects, clean"
}

@test "fio --verify: buffered, direct, and buffered and direct jobs on one file" {
	command -v fio >/dev/null || skip "fio not installed"
	local common=(--size=32M --bs=4k --ioengine=psync --verify=crc32c --do_verify=1
		--verify_fatal=1 --verify_state_save=0)
	for direct in 0 1; do
		fio --name=v$direct --filename="$MNT/fio$direct" --rw=randrw "${common[@]}" \
			--direct=$direct --output="$T/fio$direct.log"
		grep -q 'err= 0' "$T/fio$direct.log"
	done
	# Two processes, one buffered and one O_DIRECT, writing and verifying
	# their own halves of the same file at once.
	fio --filename="$MNT/mixed" --size=64M --bs=4k --ioengine=psync --rw=randwrite \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--name=buffered --direct=0 --offset=0 --size=32M \
		--name=direct --direct=1 --offset=32M --size=32M --output="$T/mixed.log"
	[ "$(grep -c 'err= 0' "$T/mixed.log")" -eq 2 ]
	python3 "$BATS_TEST_DIRNAME/../integration/direct_io.py" procs "$MNT/procs" 6 | tee "$T/procs.log"
	grep -q 'processes failed: 0 stripes wrong: 0' "$T/procs.log"
	report "fio --verify randrw buffered and direct, mixed buffered+direct jobs, 6 mixed-handle processes: no error"
}
