#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (ASan + UBSan) into build-fuzz/ and runs
# each for SECONDS seconds on its corpus, build-fuzz/corpus-NAME, seeded by
# seeds.c with valid inputs. Exits non-zero if any target crashes, leaks,
# times out or fails to build; the reproducer is build-fuzz/crash-NAME-*.
# Usage: tests/fuzz/run.sh [SECONDS]   (default 30)
set -u
secs=${1:-30}
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
make -s -C "$top" BUILD="$out/obj" CC="$cc" OPT="$san" "$lib" >/dev/null ||
	die "building the instrumented library failed"
make -s -C "$top" BUILD="$out/plain" CC="$cc" OPT="-O1" "$plain" >/dev/null ||
	die "building the library failed"

for t in $targets; do
	# shellcheck disable=SC2086
	$cc $san $base -Wall -Wextra -Werror -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" \
		"$lib" $libs || die "building fuzz_$t failed"
done

# The seed writer runs once, without sanitizers or coverage.
# shellcheck disable=SC2086
$cc -O1 $base -Wall -Wextra -Werror -o "$out/seeds" tests/fuzz/seeds.c "$plain" $libs ||
	die "building seeds failed"
"$out/seeds" "$out" || die "writing seeds failed"

failed=""
for t in $targets; do
	mkdir -p "$out/corpus-$t"
	log=$out/fuzz_$t.log
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
		failed="$failed $t"
	fi
done

[ -z "$failed" ] || die "failing targets:$failed"
echo "fuzz: all targets ran ${secs}s without a crash"
