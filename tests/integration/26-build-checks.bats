#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The build's own rules fail when they are broken: the layer order of the
# rooms (scripts/check-layers.sh, make layers), the stack limits
# (scripts/check-stack.sh, make stack) and the ban on bats statements that
# are negations (scripts/check-negations.sh). Each breaks a temporary copy
# of the tree, never the tree itself.

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup() {
	COPY=$(mktemp -d /tmp/lethefs-build-checks.XXXXXX)
	# Sources, scripts and the Makefile; not the build directories.
	for d in "$TOP"/*/; do
		case $(basename "$d") in build | build-* | tests) continue ;; esac
		cp -a "$d" "$COPY/"
	done
	cp -a "$TOP/Makefile" "$COPY/"
}

teardown() {
	rm -rf "$COPY"
}

@test "make layers passes on the tree" {
	run sh "$TOP/scripts/check-layers.sh" "$TOP"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"every include points down, no circles"* ]]
}

@test "a lowest-room file including a header of the top room fails make layers" {
	run sh "$TOP/scripts/check-layers.sh" "$COPY"
	[ "$status" -eq 0 ]
	echo '#include "../cli/cli.h"' >>"$COPY/common/log.c"
	run sh "$TOP/scripts/check-layers.sh" "$COPY"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *'common/log.c (common) includes "../cli/cli.h" of the higher room cli'* ]]
}

@test "two modules of one room including each other fail make layers" {
	# log.c includes fileutil.h and fileutil.c includes log.h: a circle.
	sed -i '1a #include "fileutil.h"' "$COPY/common/log.c"
	sed -i '1a #include "log.h"' "$COPY/common/fileutil.c"
	run sh "$TOP/scripts/check-layers.sh" "$COPY"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"modules include each other"* ]]
	[[ $output == *"common/log"* && $output == *"common/fileutil"* ]]
}

@test "a C file outside the rooms fails make layers" {
	mkdir "$COPY/extra"
	echo 'int x;' >"$COPY/extra/x.c"
	run sh "$TOP/scripts/check-layers.sh" "$COPY"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"extra/x.c is in no room"* ]]
}

# The stack check builds the whole tree once (into the copy's
# build-stack, seeded from the tree's when it exists so that only what
# the test changes is rebuilt).
stack_check() {
	[ -d "$TOP/build-stack" ] && cp -a "$TOP/build-stack" "$COPY/"
	run sh "$COPY/scripts/check-stack.sh" "$COPY/build-stack"
	echo "$output"
}

@test "make stack passes on the tree and fails on a frame over 16 KiB" {
	command -v gcc >/dev/null || skip "gcc not installed"
	stack_check
	[ "$status" -eq 0 ]
	cat >>"$COPY/common/duration.c" <<'EOF'

int lfs_test_big_frame(int i);
int lfs_test_big_frame(int i)
{
	volatile char big[20000];
	big[i] = 1;
	return big[(i + 1) % 20000];
}
EOF
	stack_check
	[ "$status" -eq 1 ]
	[[ $output == *"lfs_test_big_frame is 20"*"bytes (limit 16384)"* ]]
}

@test "make stack fails when a wipe no longer covers its handlers" {
	command -v gcc >/dev/null || skip "gcc not installed"
	sed -i 's/^#define HANDLER_STACK_WIPE (32 \* 1024)/#define HANDLER_STACK_WIPE (16 * 1024)/' \
		"$COPY/fs/gate.c"
	grep -q 'define HANDLER_STACK_WIPE (16 \* 1024)' "$COPY/fs/gate.c"
	stack_check
	[ "$status" -eq 1 ]
	[[ $output == *"HANDLER_STACK_WIPE = 16384 bytes"*"NOT covered"* ]]
}

@test "no bats statement is a negation that cannot fail (check-negations)" {
	run sh "$TOP/scripts/check-negations.sh" "$TOP"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"no negated statement that cannot fail"* ]]
}

@test "a bats statement starting with '! ' fails check-negations; conditions do not" {
	mkdir -p "$COPY/tests/integration"
	# Every form here is fine: conditions, and negations that can fail.
	cat >"$COPY/tests/integration/ok.bats" <<'BATS'
fine() { # (not @test: bats would take it for one of this file)
	if ! grep -q x /dev/null; then :; fi
	while ! true; do :; done
	true && ! false
	[ ! -e /nonexistent ]
	run ! false
	! grep -q x /dev/null || false
	! true || { echo bad; return 1; }
	! grep -q x \
		/dev/null || return 1
	if true &&
		! false; then :; fi
	# ! a comment
}
BATS
	run sh "$TOP/scripts/check-negations.sh" "$COPY"
	echo "$output"
	[ "$status" -eq 0 ]
	# A test line, a line of an sh -ec script inside a test (the same rule),
	# and a line of a loaded helper; written by printf, since lines of a
	# here-document here would be checked as this file's own.
	printf '%s\n' '@test "dead" {' '	! grep -q x /dev/null' '	sh -ec "' '		! ls /' \
		'		true"' '}' >"$COPY/tests/integration/bad.bats"
	printf '%s\n' 'helper() {' '	! true' '	:' '}' >"$COPY/tests/integration/h.bash"
	run sh "$TOP/scripts/check-negations.sh" "$COPY"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"tests/integration/bad.bats:2: ! grep -q x /dev/null"* ]]
	[[ $output == *"tests/integration/bad.bats:4: ! ls /"* ]]
	[[ $output == *"tests/integration/h.bash:2: ! true"* ]]
	[[ $output == *"negations: 3 statement(s)"* ]]
	[[ $output != *ok.bats* ]]
}
