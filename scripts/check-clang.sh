#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make asan` and the fuzzing build compile with clang, whose warnings are
# not gcc's (a string concatenation in an array initializer once broke
# `make asan` while `make test`, built by gcc, passed). This compiles every
# C file of the project (the rooms, the unit tests, the test tools, the
# fault shim and the fuzz targets) with clang's -fsyntax-only and the
# project's warning flags, so that such a break fails `make test`.
# Usage: scripts/check-clang.sh [TREE]; exits 0 with one summary line, or
# prints the diagnostics and exits 1. Without clang: says so, exits 77.
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
command -v clang >/dev/null || {
	echo "clang not found"
	exit 77
}
flags="-fsyntax-only -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
       -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=312
       $(pkg-config --cflags fuse3 libsodium inih libsystemd)"
files=$(ls cli/*.c daemon/*.c rotation/*.c staging/*.c fs/*.c audit/*.c keymgmt/*.c \
	journal/*.c cluster/*.c common/*.c tests/unit/*.c tests/tools/*.c tests/fuzz/*.c 2>/dev/null)
n=0 bad=0
for f in $files; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	clang $flags "$f" 2>&1 || bad=$((bad + 1))
done
# The fault shim defines the plain and the 64-bit names itself.
for f in tests/fault/faultshim_*.c; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	clang -fsyntax-only -std=gnu11 -Wall -Wextra -Werror -fPIC "$f" 2>&1 || bad=$((bad + 1))
done
if [ "$bad" -ne 0 ]; then
	echo "clang: $bad of $n files do not compile cleanly"
	exit 1
fi
echo "clang: $n files compile cleanly"
