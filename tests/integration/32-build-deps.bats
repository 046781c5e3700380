#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The build does what it says: each entry point installs the packages of
# its purpose before the first compile (never computing flags before
# that), and CFLAGS/CPPFLAGS/LDFLAGS from the environment come after the
# project's own flags, as dpkg-buildflags expects. (That the first run works
# on a bare Debian 12 is make fresh-check's job, in CI.)

TOP=$BATS_TEST_DIRNAME/../..

setup() { B=$(mktemp -d /tmp/lethefs-it.XXXXXX); }
teardown() { rm -rf "$B"; }

dry() { make -s -C "$TOP" -n BUILD="$B/build" "$@"; }

@test "make installs the build dependencies first, make test and make demo theirs" {
	out=$(dry all)
	echo "$out" | head -n1 | grep -qx 'sh scripts/install-deps.sh build'
	[ "$(echo "$out" | grep -c install-deps)" -eq 1 ]
	dry test | head -n1 | grep -qx 'sh scripts/install-deps.sh test'
	dry demo | head -n1 | grep -qx 'sh scripts/install-deps.sh demo'
	dry DEPS=no all >"$B/nodeps"
	! grep -q install-deps "$B/nodeps" || return 1
}

@test "the build purpose lists only build dependencies" {
	for p in make gcc pkg-config libfuse3-dev libsodium-dev libinih-dev; do
		grep -q "^build=.*\b$p\b" "$TOP/scripts/install-deps.sh"
	done
	# Tools for tests only are not build dependencies.
	for p in clang cppcheck clevis tang gdb bats; do
		! grep -q "^build=.*\b$p\b" "$TOP/scripts/install-deps.sh" || return 1
	done
	run sh "$TOP/scripts/install-deps.sh" nonsense
	[ "$status" -eq 2 ]
}

@test "CFLAGS, CPPFLAGS and LDFLAGS from the environment follow the project's flags" {
	out=$(CFLAGS="-O1 -DLFSPK_CFLAG" CPPFLAGS="-DLFSPK_CPPFLAG -D_FORTIFY_SOURCE=3" \
		LDFLAGS="-Wl,-z,now -DLFSPK_LDFLAG" dry DEPS=no all)
	compile=$(echo "$out" | grep -m1 ' -c -o .*cli/main.o')
	link=$(echo "$out" | grep -m1 " -o $B/build/lethefs ")
	echo "$compile"
	# Order: the project's -O2 and warnings, then CPPFLAGS, then CFLAGS.
	[[ "$compile" == *"-O2 "*"-Werror"*"-DLFSPK_CPPFLAG"*"-O1 -DLFSPK_CFLAG"* ]]
	# A level chosen by the caller replaces the project's _FORTIFY_SOURCE=2.
	[[ "$compile" != *"_FORTIFY_SOURCE=2"* ]]
	[[ "$link" == *"-DLFSPK_CFLAG"*"-Wl,-z,now -DLFSPK_LDFLAG"* ]]
	# Without them, the project's defaults alone.
	plain=$(dry DEPS=no all | grep -m1 ' -c -o .*cli/main.o')
	[[ "$plain" == *"-O2 -g "*"-D_FORTIFY_SOURCE=2"* ]]
}

@test "lethefs --version and the man pages carry debian/changelog's version" {
	version=$(sed -n '1s/^lethefs (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
	[ -n "$version" ]
	if ! nm -D "$LETHEFS" 2>/dev/null | grep -q __asan_init; then
		[ "$("$LETHEFS" --version)" = "lethefs $version" ]
	fi
	make -s -C "$TOP" BUILD="$B/build" DEPS=no man
	head -n2 "$B/build/man/lethefs.1" "$B/build/man/lethefs.conf.5" | grep -c "\"lethefs $version\"" | grep -qx 2
	! grep -q '@VERSION@\|@DATE@' "$B/build/man/lethefs.1" "$B/build/man/lethefs.conf.5" || return 1
	# The man page sources hold no version of their own to drift.
	! grep -q "lethefs [0-9]" "$TOP/man/lethefs.1" "$TOP/man/lethefs.conf.5" || return 1
	! grep -rqE 'LETHEFS_VERSION "[0-9]' "$TOP/cli" || return 1
}
