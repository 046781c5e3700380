#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The shipped systemd units pass systemd-analyze verify (with the binary
# path pointed at the build under test, since nothing is installed).

load helpers

setup() {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
}
teardown() { [ -z "${T:-}" ] || rm -rf "$T"; }

@test "every unit in dist/systemd passes systemd-analyze verify" {
	bin=$(readlink -f "$LETHEFS")
	n=0
	for u in "$BATS_TEST_DIRNAME"/../../dist/systemd/*; do
		sed "s|/usr/local/bin/lethefs|$bin|g; s|/usr/local/lib/lethefs/|$(dirname "$bin")/../scripts/|g" \
			"$u" >"$T/$(basename "$u")"
		n=$((n + 1))
	done
	[ "$n" -ge 7 ]
	cd "$T"
	# Templates are verified through an instance name.
	run systemd-analyze verify --man=no "$T/lethefs@labdata.service" \
		"$T/lethefs-shred@srv-labdata.service" "$T/lethefs-shred@srv-labdata.timer" \
		"$T/lethefs-shred.service" "$T/lethefs-shred.timer" \
		"$T/lethefs-rotate.service" "$T/lethefs-rotate.timer"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ] # warnings (an unknown setting, a bad value) fail too
}
