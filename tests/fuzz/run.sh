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
targets="keyslots keyring config names content recovery audit ctlproto stage rotjournal"

# The parsers under test, without FUSE or the vault/secret I/O code.
core="common/log.c common/fileutil.c common/duration.c
      keymgmt/kdf.c keymgmt/keyslots.c keymgmt/keyring.c keymgmt/config.c keymgmt/recovery.c
      keymgmt/audit_line.c keymgmt/ctlproto.c keymgmt/stage_store.c
      fs/cipher.c fs/content.c fs/names.c fs/dirmeta.c fs/refile.c"

base="-std=gnu11 -DFUSE_USE_VERSION=312 -D_FILE_OFFSET_BITS=64
      $(pkg-config --cflags fuse3 libsodium inih)"
# UBSan findings abort instead of printing and carrying on, so that they
# count as crashes.
san="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
libs="$(pkg-config --libs libsodium inih) -lpthread"

die() {
	echo "fuzz: $*" >&2
	exit 1
}

command -v "$cc" >/dev/null || die "$cc not found (install clang and libclang-rt-dev)"
mkdir -p "$out/obj" || die "cannot create $out"
cd "$top" || die "cannot enter $top"

# Core objects are compiled once (instrumented) and shared by all targets.
# Warnings in them are the main build's business; the harnesses below are
# held to -Werror.
objs=""
for src in $core; do
	obj=$out/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')
	# shellcheck disable=SC2086
	$cc $san $base -c -o "$obj" "$src" || die "compiling $src failed"
	objs="$objs $obj"
done

for t in $targets; do
	# shellcheck disable=SC2086
	$cc $san $base -Wall -Wextra -Werror -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" \
		$objs $libs || die "building fuzz_$t failed"
done

# The seed writer runs once, without sanitizers or coverage.
# shellcheck disable=SC2086
$cc -O1 $base -Wall -Wextra -Werror -o "$out/seeds" tests/fuzz/seeds.c $core $libs ||
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
