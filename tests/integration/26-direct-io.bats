#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# O_DIRECT (issue 21): opening with O_DIRECT works, direct reads and writes
# return what ext4 returns, and an O_DIRECT handle beside buffered ones never
# costs a byte, with and without the kernel's writeback cache. Every case runs
# in the mount and in a plain directory ($REF) and the outputs are compared.

load helpers

PY="python3 $BATS_TEST_DIRNAME/direct_io.py"

setup() { setup_vault; }
teardown() { teardown_vault; }

# Runs direct_io.py CASE in the mount and in $REF; the outputs must match.
same_case() {
	local out_m out_r
	out_m=$($PY "$1" "$MNT/f" "${@:2}" 2>&1)
	out_r=$($PY "$1" "$REF/f" "${@:2}" 2>&1)
	if [ "$out_m" != "$out_r" ]; then
		echo "mount: $out_m" >&2
		echo "ref:   $out_r" >&2
		return 1
	fi
	echo "$out_m"
}

# The file's digest after a remount: what reached the backing store.
after_remount() {
	local f=$1
	shift
	unmount_vault
	mount_vault "$@"
	sha256sum <"$MNT/$f" | cut -c1-16
}

mixed_case() {
	mount_vault "$@"
	run same_case mixed
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fsync A ok"* ]]
	[[ "$output" != *error* ]]
	want=$(sha256sum <"$REF/f" | cut -c1-16)
	[ "$(stat -c %s "$REF/f")" = 1048576 ]
	[ "$(after_remount f "$@")" = "$want" ]
	[ "$(sha256sum <"$MNT/f.2" | cut -c1-16)" = "$want" ]
}

@test "buffered 1 MiB beside an idle O_DIRECT handle: fsync ok, nothing lost (writeback cache)" {
	mixed_case
}

@test "buffered 1 MiB beside an idle O_DIRECT handle: fsync ok, nothing lost (no_writeback_cache)" {
	mixed_case -o no_writeback_cache
}

@test "aligned O_DIRECT writes and reads return ext4's results" {
	mount_vault
	same_case dio-roundtrip
	[ "$(after_remount f)" = "$(sha256sum <"$REF/f" | cut -c1-16)" ]
}

@test "O_DIRECT at unaligned offsets and sizes matches a model of the file" {
	mount_vault
	$PY unaligned "$MNT/f"
}

@test "dd oflag=direct and iflag=direct as on ext4, with and without the writeback cache" {
	head -c 3000000 /dev/urandom >"$T/data"
	for opts in "" "-o no_writeback_cache"; do
		# shellcheck disable=SC2086
		mount_vault $opts
		for d in "$MNT" "$REF"; do
			dd if="$T/data" of="$d/dd" bs=64k oflag=direct status=none
			dd if="$d/dd" of="$d/dd.back" bs=128k iflag=direct status=none
			dd if="$T/data" of="$d/dd2" bs=4k seek=7 oflag=direct conv=notrunc status=none
		done
		for f in dd dd.back dd2; do
			cmp "$MNT/$f" "$REF/$f"
		done
		unmount_vault
		mount_vault
		cmp "$MNT/dd" "$T/data"
		cmp "$MNT/dd2" "$REF/dd2"
		unmount_vault
		rm -f "$REF"/dd*
	done
}

@test "fio --direct=1 and buffered with --verify" {
	command -v fio >/dev/null || skip "fio not installed"
	mount_vault
	for direct in 1 0; do
		fio --name=v --filename="$MNT/fio$direct" --size=16M --bs=4k --rw=randwrite \
			--ioengine=psync --direct=$direct --verify=crc32c --do_verify=1 \
			--verify_fatal=1 --verify_state_save=0 --output="$T/fio$direct.log"
		grep -q 'err= 0' "$T/fio$direct.log"
	done
}

@test "several processes mixing buffered and O_DIRECT handles on one file lose nothing" {
	for opts in "" "-o no_writeback_cache"; do
		# shellcheck disable=SC2086
		mount_vault $opts
		run same_case procs 4
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"processes failed: 0 stripes wrong: 0"* ]]
		[ "$(after_remount f)" = "$(sha256sum <"$REF/f" | cut -c1-16)" ]
		unmount_vault
	done
}
