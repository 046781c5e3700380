#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every C file of the project is formatted as the checked-in .clang-format
# says (CONTRIBUTING.md; `make format` rewrites them). Run by `make test`,
# so that a file formatted by hand cannot land.
# Usage: scripts/check-format.sh [TREE]; exits 0 with one summary line, or
# names the files clang-format would change (and shows the first lines it
# would change) and exits 1. Without clang-format: says so, exits 77.
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
command -v clang-format >/dev/null || {
	echo "clang-format not found"
	exit 77
}
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find . -name '*.[ch]' -not -path './build*' | sed 's|^\./||')
fi
n=0 bad=0
for f in $files; do
	n=$((n + 1))
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad=$((bad + 1))
		echo "$f: not formatted as .clang-format says (make format)"
		clang-format --dry-run "$f" 2>&1 | head -n 6
	fi
done
if [ "$bad" -gt 0 ]; then
	echo "check-format: $bad of $n files not formatted"
	exit 1
fi
echo "check-format: $n files formatted as .clang-format says"
