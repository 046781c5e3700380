#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (ASan + UBSan) into build-fuzz/ and runs
# each for SECONDS seconds on its corpus, build-fuzz/corpus-NAME, seeded by
# seeds.c with valid inputs. Exits non-zero if any target crashes, leaks,
# times out or fails to build; the reproducer is build-fuzz/crash-NAME-*.
# Usage: tests/fuzz/run.sh [SECONDS]   (default 30)
# FUZZ_JOBS targets are built and run at once (default: the number of
# cores); each target still runs SECONDS on a core of its own.
set -u
secs=${1:-30}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build-fuzz
cc=${FUZZ_CC:-clang}
# Every tests/fuzz/fuzz_NAME.c is a target (FUZZ_TARGETS="a b": only those).
targets=${FUZZ_TARGETS:-$(cd "$top/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')}

# The code under test is the whole tree's library (every room's *.c but
# main), built by the Makefile into a directory of its own: the linker
# takes from it only what a target reaches, so moving a file needs no
# edit here.
base="-std=gnu11 -DFUSE_USE_VERSION=312 -D_FILE_OFFSET_BITS=64
      $(pkg-config --cflags fuse3 libsodium inih libsystemd)"
# UBSan findings abort instead of printing and carrying on, so that they
# count as crashes.
san="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
libs="$(pkg-config --libs fuse3 libsodium inih libsystemd) -lpthread -lm"

die() {
	echo "fuzz: $*" >&2
	exit 1
}

command -v "$cc" >/dev/null || die "$cc not found (install clang and libclang-rt-dev)"
mkdir -p "$out/obj" || die "cannot create $out"
cd "$top" || die "cannot enter $top"

# The library is built by make (incrementally) twice: instrumented for the
# targets, plain for the seed writer.
lib=$out/obj/liblethefs.a
plain=$out/plain/liblethefs.a
make -s -j"$jobs" -C "$top" BUILD="$out/obj" CC="$cc" OPT="$san" "$lib" >/dev/null ||
	die "building the instrumented library failed"
make -s -j"$jobs" -C "$top" BUILD="$out/plain" CC="$cc" OPT="-O1" "$plain" >/dev/null ||
	die "building the library failed"

# Runs function $1 for every target, in $jobs lanes at once (the targets
# dealt round-robin); fails if it failed for any. Each target's output is
# kept apart and printed whole, in the targets' order.
each_target() {
	fn=$1
	rm -rf "$out/out"
	mkdir -p "$out/out"
	lane=0 pids=""
	while [ "$lane" -lt "$jobs" ]; do
		(
			# (sh has no local variables: these names are the lane's
			# own, apart from the functions' t, log and rc, which once
			# reset a failed lane to success at its next target)
			lane_i=0 lane_rc=0
			for lane_t in $targets; do
				if [ $((lane_i % jobs)) -eq "$lane" ]; then
					"$fn" "$lane_t" >"$out/out/$lane_t" 2>&1 || lane_rc=1
				fi
				lane_i=$((lane_i + 1))
			done
			exit $lane_rc
		) &
		pids="$pids $!"
		lane=$((lane + 1))
	done
	all_rc=0
	for p in $pids; do wait "$p" || all_rc=1; done
	for t in $targets; do cat "$out/out/$t"; done
	return $all_rc
}

build_target() {
	# shellcheck disable=SC2086
	$cc $san $base -Wall -Wextra -Werror -o "$out/fuzz_$1" "tests/fuzz/fuzz_$1.c" \
		"$lib" $libs || {
		echo "fuzz: building fuzz_$1 failed"
		return 1
	}
}
each_target build_target || die "building the targets failed"

# The seed writer runs once, without sanitizers or coverage.
# shellcheck disable=SC2086
$cc -O1 $base -Wall -Wextra -Werror -o "$out/seeds" tests/fuzz/seeds.c "$plain" $libs ||
	die "building seeds failed"
"$out/seeds" "$out" || die "writing seeds failed"

run_target() {
	t=$1 log=$out/fuzz_$1.log
	mkdir -p "$out/corpus-$t"
	"$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/crash-$t-" -print_final_stats=1 \
		"$out/corpus-$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $rc -eq 0 ]; then
		echo "fuzz_$t: ok, ${runs:-?} runs in ${secs}s, corpus $(ls "$out/corpus-$t" | wc -l)"
	else
		echo "fuzz_$t: FAILED (exit $rc), log $log"
		grep -E 'ERROR|invariant failed|SUMMARY|Test unit written' "$log" | head -20
		return 1
	fi
}
if ! each_target run_target; then
	# shellcheck disable=SC2086
	die "failing targets:$(cd "$out/out" && grep -l FAILED $targets | tr '\n' ' ')"
fi
echo "fuzz: all targets ran ${secs}s without a crash"
