#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every suite (C unit tests beside the build's rules, then bats
# integration tests through real mounts in LETHEFS_TEST_JOBS lanes, then
# cppcheck, licence lines and a fuzzing smoke) and ends with one line:
# "N passed, N failed[, N skipped]" (docs/TESTING.md, "How make test runs").
# Usage: tests/run-all.sh BUILD_DIR [unit|integration]
set -u
build=${1:-build}
which=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
logdir=$(mktemp -d /tmp/lethefs-test-logs.XXXXXX)
pass=0 fail=0 skip=0
# Seconds per step, printed before the summary (the budget's keeper).
steps="" step_t0=$(date +%s)
step_done() { # name
	local now
	now=$(date +%s)
	steps="$steps $1 $((now - step_t0)) s,"
	step_t0=$now
}

count_tap() { # file
	local p f s
	s=$(grep -cE '^ok [0-9]+.*# (skip|SKIP)' "$1")
	p=$(grep -cE '^ok [0-9]+' "$1")
	f=$(grep -cE '^not ok [0-9]+' "$1")
	pass=$((pass + p - s)) fail=$((fail + f)) skip=$((skip + s))
}

# The build's rules, each one counted test (docs/DESIGN.md): includes
# point down the layer order, no bats statement is a negation that cannot
# fail, and no stack frame or wipe breaks its limit. They run beside the
# unit tests (the stack check's build on one core, the unit tests on the
# other) and are reported after them, before the integration tests, whose
# checks of these rules reuse the stack build.
rule() { # name command...: its log and exit status in $logdir
	local name=$1
	shift
	"$@" >"$logdir/$name.log" 2>&1
	echo $? >"$logdir/$name.rc"
}
report_rule() { # name
	if [ "$(cat "$logdir/$1.rc")" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $1"
	else
		fail=$((fail + 1))
		echo "not ok $1"
		cat "$logdir/$1.log"
	fi
}
have_stack_tools() { command -v gcc >/dev/null && command -v python3 >/dev/null; }
if [ "$which" = all ]; then
	(
		rule layers sh "$top/scripts/check-layers.sh"
		rule negations sh "$top/scripts/check-negations.sh" "$top"
		if have_stack_tools; then rule stack sh "$top/scripts/check-stack.sh"; fi
	) &
	rules=$!
	# clang's warnings (make asan and the fuzzing build use clang), and
	# the checked-in .clang-format.
	(
		rule clang sh "$top/scripts/check-clang.sh"
		rule format sh "$top/scripts/check-format.sh"
	) &
	clang_rule=$!
fi

if [ "$which" != integration ]; then
	# The test binaries run two at a time (LETHEFS_UNIT_JOBS): the three
	# tail-crash sweeps alone take most of a minute each, one core apiece.
	# Each writes its own TAP; they are counted in name order after.
	units=()
	for t in "$top/$build"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		# A binary whose source is gone (a test file split or renamed)
		# would count its tests twice.
		[ -e "$top/tests/unit/$name.c" ] || continue
		units+=("$t")
	done
	# The longest first, so that the two jobs end together.
	printf '%s\n' "${units[@]}" | awk '{ print (/tail_crash/ ? 0 : 1) " " $0 }' |
		sort -k1,1n -s | cut -d' ' -f2- |
		LOGDIR=$logdir xargs -r -d '\n' -P "${LETHEFS_UNIT_JOBS:-2}" -I{} sh -c \
			't=$1; n=$(basename "$t"); CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$LOGDIR/$n.tap" 2>&1; echo $? >"$LOGDIR/$n.urc"' sh {}
	for t in "${units[@]}"; do
		name=$(basename "$t")
		rc=$(cat "$logdir/$name.urc" 2>/dev/null || echo missing)
		count_tap "$logdir/$name.tap"
		grep -E '^not ok' "$logdir/$name.tap" | sed "s/^/[$name] /"
		if [ "$rc" != 0 ] && ! grep -qE '^not ok' "$logdir/$name.tap"; then
			echo "[$name] exited $rc without reporting a failure"
			cat "$logdir/$name.tap"
			fail=$((fail + 1))
		fi
		echo "unit $name: $(grep -cE '^ok' "$logdir/$name.tap") ok"
	done
fi

if [ "$which" = all ]; then
	wait "$rules"
	step_done unit
	report_rule layers
	report_rule negations
	if have_stack_tools; then
		report_rule stack
	else
		skip=$((skip + 1))
		echo "ok stack # skip (needs gcc and python3)"
	fi
	wait "$clang_rule"
	if [ "$(cat "$logdir/clang.rc")" = 77 ]; then
		skip=$((skip + 1))
		echo "ok clang # skip (clang not installed)"
	else
		report_rule clang
	fi
	if [ "$(cat "$logdir/format.rc")" = 77 ]; then
		skip=$((skip + 1))
		echo "ok format # skip (clang-format not installed)"
	else
		report_rule format
	fi
fi

# cppcheck and the fuzzing smoke need only the CPU: they run at the lowest
# priority beside the integration tests (which wait on mounts, daemons,
# GlusterFS and disks much of the time) and are reported after them.
# Whoever runs one suite alone still gets them in turn.
fuzz_wanted=0
if [ "$which" = all ] && [ "${LETHEFS_SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
	fuzz_wanted=1
fi
if [ "$which" = all ]; then
	(
		if command -v cppcheck >/dev/null; then
			nice -n 19 make -s -C "$top" cppcheck >"$logdir/cppcheck.log" 2>&1
			echo $? >"$logdir/cppcheck.rc"
		fi
		if [ "$fuzz_wanted" = 1 ]; then
			nice -n 19 sh "$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-5}" >"$logdir/fuzz.log" 2>&1
			echo $? >"$logdir/fuzz.rc"
		fi
	) &
	background_checks=$!
fi

# What the integration tests leave on the machine: users and groups (the
# tests that make some delete them in their teardown) and mounts (every
# test unmounts what it mounted). Compared before and after; on a machine
# where someone else runs the suite at the same time, theirs may show.
leftovers() {
	getent passwd | cut -d: -f1 | sed 's/^/user /'
	getent group | cut -d: -f1 | sed 's/^/group /'
	awk '$3 ~ /^fuse\.lethefs$/ || $2 ~ /^\/tmp\/lethefs-/ {print "mount " $2}' /proc/self/mounts
	# The tests' temporary directories (helpers.bash and the files that
	# make their own).
	find /tmp -maxdepth 1 -name 'lethefs-it.*' -printf 'directory %p\n' 2>/dev/null
}

# The bats files run side by side in LETHEFS_TEST_JOBS lanes (default 2;
# 1: one after the other), except what tests/integration/lanes.conf keeps
# apart: files that must run alone (after the lanes), files that share
# fixed users (one lane, in turn) and long files (handed out first). Each
# file's TAP output is printed whole when it ends; the counts, the list of
# the slowest tests and $logdir/integration.tap (every file's TAP, in the
# files' order, numbered through) are the same as from one bats run.
itests=$top/tests/integration
lanes_conf=$itests/lanes.conf
lane_of() { # file -> its class in lanes.conf, or nothing
	awk -v f="$(basename "$1")" '$1 == f { print $2; exit }' "$lanes_conf"
}

# Runs one bats file; its TAP in $logdir/tap/NAME.tap, bats' exit status
# in $logdir/tap/NAME.rc, the TAP printed whole under a lock.
run_bats_file() { # file lane
	local name
	name=$(basename "$1" .bats)
	bats --tap --timing "$1" >"$logdir/tap/$name.tap" 2>&1
	echo $? >"$logdir/tap/$name.rc"
	{
		flock 9
		echo "# $name.bats (lane $2)"
		cat "$logdir/tap/$name.tap"
	} 9>"$logdir/tap/.print.lock"
}

# A lane: takes the next unit (one file, or a group's files) from the queue
# until it is empty.
lane() { # number
	local unit f
	while :; do
		# shellcheck disable=SC2016
		unit=$(flock "$logdir/queue.lock" sh -c \
			'n=$(cat "$1.next"); echo $((n + 1)) >"$1.next"; sed -n "$((n + 1))p" "$1"' \
			sh "$logdir/queue")
		[ -n "$unit" ] || return 0
		for f in $unit; do run_bats_file "$f" "$1"; done
	done
}

# Every test of a file counted, whatever became of bats: a file whose run
# reported fewer results than its plan (bats died), or exited non-zero
# without a failing test, is one failure more.
count_bats_file() { # name
	local tap=$logdir/tap/$1.tap rc planned got
	rc=$(cat "$logdir/tap/$1.rc" 2>/dev/null || echo missing)
	count_tap "$tap"
	planned=$(grep -m 1 -oE '^1\.\.[0-9]+' "$tap" | cut -c4-)
	got=$(grep -cE '^(not )?ok [0-9]+' "$tap")
	if [ "$rc" != 0 ] && ! grep -qE '^not ok' "$tap" || [ "${planned:-x}" != "$got" ]; then
		fail=$((fail + 1))
		echo "not ok $1.bats: bats exited $rc with $got of ${planned:-?} results"
	fi
}

if [ "$which" != unit ]; then
	export LETHEFS="$top/$build/lethefs"
	leftovers | sort >"$logdir/before"
	mkdir -p "$logdir/tap"
	jobs=${LETHEFS_TEST_JOBS:-2}
	# A line for a file that is gone would hide what it was about.
	while read -r f c _; do
		case $f in
		@*)
			# A group handed out first must have files.
			if ! awk -v g="${f#@}" '$2 == g { found = 1 } END { exit !found }' "$lanes_conf"; then
				fail=$((fail + 1))
				echo "not ok tests/integration/lanes.conf names group $f ($c), which has no file"
			fi
			continue
			;;
		esac
		if [ ! -e "$itests/$f" ]; then
			fail=$((fail + 1))
			echo "not ok tests/integration/lanes.conf names $f, which does not exist"
		fi
	done < <(grep -vE '^(#|[[:space:]]*$)' "$lanes_conf")
	first="" rest="" serial="" groups=""
	for f in "$itests"/*.bats; do
		c=$(lane_of "$f")
		case $c in
		serial) serial="$serial $f" ;;
		first) ;;
		"") rest="$rest$f"$'\n' ;;
		*)
			# A group is one unit, where its first file stands (or
			# among the first, when lanes.conf hands @GROUP out first).
			case " $groups " in *" $c "*) continue ;; esac
			# (the name becomes part of a shell variable's name below)
			case $c in *[!A-Za-z0-9_]*)
				fail=$((fail + 1))
				echo "not ok tests/integration/lanes.conf: group name $c: letters, digits and _ only"
				continue
				;;
			esac
			groups="$groups $c"
			unit=""
			for g in "$itests"/*.bats; do [ "$(lane_of "$g")" = "$c" ] && unit="$unit $g"; done
			if [ "$(awk -v g="@$c" '$1 == g { print $2; exit }' "$lanes_conf")" = first ]; then
				eval "group_unit_$c=\${unit# }"
			else
				rest="$rest${unit# }"$'\n'
			fi
			;;
		esac
	done
	# The long files and groups first, in the order lanes.conf names them.
	first=$(awk '$2 == "first" { print $1 }' "$lanes_conf" |
		while read -r f; do
			case $f in
			@*) eval "echo \"\${group_unit_${f#@}:-}\"" ;;
			*) if [ -e "$itests/$f" ]; then echo "$itests/$f"; fi ;;
			esac
		done)
	printf '%s\n%s' "$first" "$rest" | grep . >"$logdir/queue"
	echo 0 >"$logdir/queue.next"
	nfiles=$(printf '%s\n' "$itests"/*.bats | wc -l)
	echo "integration: $nfiles bats files in $jobs lanes, then alone:$(for f in $serial; do printf ' %s' "$(basename "$f")"; done)"
	t0=$(date +%s)
	pids=""
	for i in $(seq "$jobs"); do
		lane "$i" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids
	t1=$(date +%s)
	for f in $serial; do run_bats_file "$f" alone; done
	echo "integration: lanes $((t1 - t0)) s, alone $(($(date +%s) - t1)) s"
	# Counted in the files' order; one TAP stream numbered through.
	n=0
	: >"$logdir/integration.body"
	: >"$logdir/timings"
	for f in "$itests"/*.bats; do
		name=$(basename "$f" .bats)
		count_bats_file "$name"
		awk -v n="$n" '
			/^(not )?ok [0-9]+/ { n++; sub(/ok [0-9]+/, "ok " n); print; next }
			/^1\.\.[0-9]+/ { next }
			{ print }
			END { printf "%d\n", n > "/dev/stderr" }' "$logdir/tap/$name.tap" \
			>>"$logdir/integration.body" 2>"$logdir/tap/.n"
		n=$(cat "$logdir/tap/.n")
		sed -nE "s/^(not )?ok [0-9]+ (.*) in ([0-9]+)ms.*/\3 $name: \2/p" \
			"$logdir/tap/$name.tap" >>"$logdir/timings"
	done
	{
		echo "1..$n"
		cat "$logdir/integration.body"
	} >"$logdir/integration.tap"
	# Where the suite's time goes (docs/TESTING.md: about 15 minutes on
	# two quiet cores is the budget).
	echo "slowest integration tests:"
	sort -rn "$logdir/timings" | head -n 10 |
		awk '{ms = $1; $1 = ""; printf "  %6.1f s %s\n", ms / 1000, $0}'
	step_done integration
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
if [ "$which" = all ]; then
	wait "$background_checks"
fi
if [ "$which" = all ] && command -v cppcheck >/dev/null; then
	if [ "$(cat "$logdir/cppcheck.rc" 2>/dev/null)" = 0 ]; then
		pass=$((pass + 1))
		echo "ok cppcheck"
	else
		fail=$((fail + 1))
		echo "not ok cppcheck"
		cat "$logdir/cppcheck.log"
	fi
	step_done cppcheck
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
if [ "$fuzz_wanted" = 1 ]; then
	if [ "$(cat "$logdir/fuzz.rc" 2>/dev/null)" = 0 ]; then
		pass=$((pass + 1))
		echo "ok fuzz smoke ($(grep -c ': ok' "$logdir/fuzz.log") targets)"
	else
		fail=$((fail + 1))
		echo "not ok fuzz smoke"
		tail -20 "$logdir/fuzz.log"
	fi
	step_done fuzz
fi

[ -z "$steps" ] || echo "time:${steps%,}"

echo "logs: $logdir"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
