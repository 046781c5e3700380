#!/usr/bin/env bats
# make deb: a Debian package with the binary, man pages, units and
# completion, whose dependencies apt can resolve on this Debian.

load helpers

setup() {
	command -v dpkg-deb >/dev/null || skip "dpkg-deb not installed"
	if nm -D "$LETHEFS" 2>/dev/null | grep -q __asan_init; then
		skip "sanitizer build: not a release binary"
	fi
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	TOP=$BATS_TEST_DIRNAME/../..
	BUILD_DIR=$(basename "$(dirname "$LETHEFS")")
}
teardown() { [ -z "${T:-}" ] || rm -rf "$T"; }

@test "the .deb holds every installed file, runs, and apt can install it" {
	deb=$(sh "$TOP/scripts/make-deb.sh" "$BUILD_DIR" "$T")
	[ -f "$deb" ]
	dpkg-deb -I "$deb" >"$T/info"
	grep -q '^ Package: lethefs$' "$T/info"
	grep -q '^ Depends: .*libsodium23.*libfuse3-3\|^ Depends: .*libfuse3-3.*libsodium23' "$T/info"
	grep -q '^ Depends: .*fuse3$' "$T/info"
	dpkg-deb -c "$deb" | awk '{print $6}' >"$T/files"
	for f in ./usr/bin/lethefs ./usr/share/man/man1/lethefs.1.gz \
		./usr/share/man/man5/lethefs.conf.5.gz ./lib/systemd/system/lethefs@.service \
		./lib/systemd/system/lethefs-shred@.timer \
		./usr/share/bash-completion/completions/lethefs; do
		grep -qx -- "$f" "$T/files" || { echo "missing $f"; return 1; }
	done
	dpkg-deb -x "$deb" "$T/x"
	"$T/x/usr/bin/lethefs" --version
	grep -q '^ExecStart=/usr/bin/lethefs mount --locked' "$T/x/lib/systemd/system/lethefs@.service"
	# What apt would do with it here (dependencies resolve), without doing it.
	run apt-get -s install "$deb"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Inst lethefs"* ]]
}
