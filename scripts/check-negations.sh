#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when a bats test (tests/**/*.bats, or bash they load: *.bash) has a
# statement starting with `! `. bash's errexit ignores a negated command,
# so under bats such a line never fails its test (it did only as the last
# line of a test or function, until a line was added after it); the same
# holds for `sh -e` scripts written inside a test. Write instead
#   run cmd ...; [ "$status" -eq N ]    (lethefs: its exit code, CLI-ABI.md)
#   assert_no_match PATTERN FILE        (helpers.bash: grep must exit 1)
#   assert_not_mounted DIR              (helpers.bash)
#   refuses_secret SECRET-OPTIONS       (helpers.bash: a wrong secret, exit 3)
#   ! cmd ... || false                  (also || return, || exit, || {)
# Negations inside a condition are fine and not reported: `if ! x`,
# `while ! x`, `a && ! b`, and a line continuing a condition from the line
# before (that line ends with &&, || or |, or is an if/while/until/elif).
# Only statements at the start of a line are checked (backslash
# continuations joined), not ones after `;` on the same line.
#   scripts/check-negations.sh [TOP]
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || {
	echo "negations: cannot enter $top" >&2
	exit 1
}
files=$(find tests -type f \( -name '*.bats' -o -name '*.bash' \) 2>/dev/null | sort)
if [ -z "$files" ]; then
	echo "negations: no bats files under $top/tests" >&2
	exit 1
fi
# shellcheck disable=SC2086 # file names without blanks, split on purpose
awk '
FNR == 1 { prev = ""; held = ""; nfiles++ }
# Backslash continuations make one statement, reported at its first line.
{
	line = $0
	if (held != "") line = held " " line
	else start = FNR
	if (line ~ /\\$/) { held = substr(line, 1, length(line) - 1); next }
	held = ""
	check(line)
}
function check(s,    t) {
	t = s
	sub(/^[ \t]+/, "", t)
	if (t == "" || t ~ /^#/) return
	if (t ~ /^![ \t]/ && t !~ /\|\|[ \t]*(false|return|exit|\{)/ &&
	    prev !~ /(&&|\|\||\|)[ \t]*$/ && prev !~ /^(if|while|until|elif)$/) {
		printf "%s:%d: %s\n", FILENAME, start, t
		bad++
	}
	prev = t
}
END {
	if (bad) {
		printf "negations: %d statement(s) starting with `! ` cannot fail a bats test ", bad
		print "(errexit ignores a negated command): use run and $status, a helper, or `! cmd || false`"
		exit 1
	}
	printf "negations: %d bats and bash files, no negated statement that cannot fail\n", nfiles
}' $files
