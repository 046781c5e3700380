#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every suite (C unit tests, then bats integration tests through real
# mounts) and ends with one line: "N passed, N failed[, N skipped]".
# Usage: tests/run-all.sh BUILD_DIR [unit|integration]
set -u
build=${1:-build}
which=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
logdir=$(mktemp -d /tmp/lethefs-test-logs.XXXXXX)
pass=0 fail=0 skip=0

count_tap() { # file
	local p f s
	s=$(grep -cE '^ok [0-9]+.*# (skip|SKIP)' "$1")
	p=$(grep -cE '^ok [0-9]+' "$1")
	f=$(grep -cE '^not ok [0-9]+' "$1")
	pass=$((pass + p - s)) fail=$((fail + f)) skip=$((skip + s))
}

if [ "$which" != integration ]; then
	for t in "$top/$build"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$logdir/$name.tap" 2>&1
		rc=$?
		count_tap "$logdir/$name.tap"
		grep -E '^not ok' "$logdir/$name.tap" | sed "s/^/[$name] /"
		if [ $rc -ne 0 ] && ! grep -qE '^not ok' "$logdir/$name.tap"; then
			echo "[$name] exited $rc without reporting a failure"
			cat "$logdir/$name.tap"
			fail=$((fail + 1))
		fi
		echo "unit $name: $(grep -cE '^ok' "$logdir/$name.tap") ok"
	done
fi

# The build's rules, each one counted test (docs/DESIGN.md): includes
# point down the layer order, no bats statement is a negation that cannot
# fail, and no stack frame or wipe breaks its limit.
# Before the integration tests, whose checks of these rules reuse the
# stack build.
check() { # name command...
	local name=$1
	shift
	if "$@" >"$logdir/$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok $name"
	else
		fail=$((fail + 1))
		echo "not ok $name"
		cat "$logdir/$name.log"
	fi
}
if [ "$which" = all ]; then
	check layers sh "$top/scripts/check-layers.sh"
	check negations sh "$top/scripts/check-negations.sh" "$top"
	if command -v gcc >/dev/null && command -v python3 >/dev/null; then
		check stack sh "$top/scripts/check-stack.sh"
	else
		skip=$((skip + 1))
		echo "ok stack # skip (needs gcc and python3)"
	fi
fi

# What the integration tests leave on the machine: users and groups (the
# tests that make some delete them in their teardown) and mounts (every
# test unmounts what it mounted). Compared before and after; on a machine
# where someone else runs the suite at the same time, theirs may show.
leftovers() {
	getent passwd | cut -d: -f1 | sed 's/^/user /'
	getent group | cut -d: -f1 | sed 's/^/group /'
	awk '$3 ~ /^fuse\.lethefs$/ || $2 ~ /^\/tmp\/lethefs-/ {print "mount " $2}' /proc/self/mounts
}

if [ "$which" != unit ]; then
	export LETHEFS="$top/$build/lethefs"
	leftovers | sort >"$logdir/before"
	bats --tap --timing "$top/tests/integration" 2>&1 | tee "$logdir/integration.tap"
	count_tap "$logdir/integration.tap"
	# Where the suite's time goes (docs/TESTING.md: about 15 minutes on
	# two quiet cores is the budget).
	echo "slowest integration tests:"
	sed -nE 's/^(not )?ok [0-9]+ (.*) in ([0-9]+)ms.*/\3 \2/p' "$logdir/integration.tap" |
		sort -rn | head -n 10 | awk '{ms = $1; $1 = ""; printf "  %6.1f s %s\n", ms / 1000, $0}'
	leftovers | sort >"$logdir/after"
	if comm -13 "$logdir/before" "$logdir/after" | grep . >"$logdir/left"; then
		fail=$((fail + 1))
		echo "not ok the integration tests left users, groups or mounts behind:"
		cat "$logdir/left"
	else
		pass=$((pass + 1))
		echo "ok no users, groups or mounts left behind"
	fi
fi

# Static analysis is part of the suite: cppcheck must stay silent.
if [ "$which" = all ] && command -v cppcheck >/dev/null; then
	if make -s -C "$top" cppcheck >"$logdir/cppcheck.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok cppcheck"
	else
		fail=$((fail + 1))
		echo "not ok cppcheck"
		cat "$logdir/cppcheck.log"
	fi
fi

# Every tracked source file carries its licence line (scripts/check-spdx.sh).
if [ "$which" = all ]; then
	if sh "$top/scripts/check-spdx.sh" "$top" >"$logdir/spdx.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok licence lines: $(tail -n 1 "$logdir/spdx.log")"
	else
		fail=$((fail + 1))
		echo "not ok licence lines"
		cat "$logdir/spdx.log"
	fi
fi

# A short fuzzing smoke run of every on-disk parser (longer: make fuzz).
if [ "$which" = all ] && [ "${LETHEFS_SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
	if sh "$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-5}" >"$logdir/fuzz.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok fuzz smoke ($(grep -c ': ok' "$logdir/fuzz.log") targets)"
	else
		fail=$((fail + 1))
		echo "not ok fuzz smoke"
		tail -20 "$logdir/fuzz.log"
	fi
fi

echo "logs: $logdir"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
