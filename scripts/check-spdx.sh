#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when a source file lacks its licence line. Every C file, header,
# script (anything starting with #!), bats test, Makefile, systemd unit,
# bash completion and man page carries
#   SPDX-License-Identifier: Apache-2.0
# in a comment on its first line, or on its second after a #! line.
# Checks the files git tracks (in a tree without git: every file but build
# output), so that files added by anyone are caught by make test.
#   scripts/check-spdx.sh [TOP]
set -eu
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files
else
	find . -type f ! -path './.git/*' ! -path './build*' | sed 's|^\./||'
fi | {
	missing=0 checked=0
	while IFS= read -r f; do
		[ -f "$f" ] || continue
		case $f in
		tests/fuzz/corpus*/* | tests/data/*) continue ;;
		*.c | *.h | *.sh | *.bash | *.bats | *.py | Makefile | */Makefile | debian/rules) ;;
		dist/systemd/* | dist/bash-completion/* | man/*) ;;
		*)
			head -c 2 "$f" | grep -q '^#!' || continue
			;;
		esac
		checked=$((checked + 1))
		if head -n 1 "$f" | grep -q '^#!'; then
			line=$(sed -n 2p "$f")
		else
			line=$(sed -n 1p "$f")
		fi
		case $line in
		*"SPDX-License-Identifier: Apache-2.0"*) ;;
		*)
			echo "$f: no 'SPDX-License-Identifier: Apache-2.0' line at its top"
			missing=$((missing + 1))
			;;
		esac
	done
	echo "check-spdx: $checked files checked, $missing without the licence line"
	[ "$missing" -eq 0 ]
}
