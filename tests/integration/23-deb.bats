#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The Debian package: built by dpkg-buildpackage from debian/ (make deb),
# lintian-clean, with every installed file, the one version everywhere, no
# unit enabled or started, and dependencies apt resolves on this Debian.
# Installing and purging it in a minimal chroot, and building it twice for
# byte-identical output, are make deb-check's (they take minutes).

TOP=$BATS_TEST_DIRNAME/../..

setup_file() {
	command -v dpkg-buildpackage >/dev/null || skip "dpkg-dev not installed"
	command -v dh >/dev/null || skip "debhelper not installed"
	export DEBDIR
	DEBDIR=$(mktemp -d /tmp/lethefs-it.XXXXXX)
	sh "$TOP/scripts/build-deb.sh" "$DEBDIR" >"$DEBDIR/path"
}
teardown_file() { [ -z "${DEBDIR:-}" ] || rm -rf "$DEBDIR"; }

setup() {
	[ -s "${DEBDIR:-/nonexistent}/path" ] || skip "no package was built"
	DEB=$(cat "$DEBDIR/path")
	VERSION=$(sed -n '1s/^lethefs (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
}

@test "dpkg-buildpackage builds lethefs and lethefs-dbgsym of the changelog's version" {
	[ -f "$DEB" ]
	ls "$DEBDIR"/lethefs-dbgsym_"$VERSION"_*.deb
	dpkg-deb -f "$DEB" Version | grep -qx "$VERSION"
	# The binary (packaged and built here) and the man pages say the same.
	dpkg-deb -x "$DEB" "$DEBDIR/x"
	[ "$("$DEBDIR/x/usr/bin/lethefs" --version)" = "lethefs $VERSION" ]
	if ! nm -D "$LETHEFS" 2>/dev/null | grep -q __asan_init; then
		[ "$("$LETHEFS" --version)" = "lethefs $VERSION" ]
	fi
	zcat "$DEBDIR/x/usr/share/man/man1/lethefs.1.gz" | head -n 5 | grep -q "^\.TH LETHEFS 1 \"[0-9-]*\" \"lethefs $VERSION\""
	zcat "$DEBDIR/x/usr/share/man/man5/lethefs.conf.5.gz" | head -n 5 | grep -q "\"lethefs $VERSION\""
}

@test "the package holds every installed file, stripped, with units pointing at /usr/bin" {
	dpkg-deb -c "$DEB" | awk '{print $6}' >"$DEBDIR/files"
	for f in ./usr/bin/lethefs ./usr/share/man/man1/lethefs.1.gz \
		./usr/share/man/man5/lethefs.conf.5.gz ./lib/systemd/system/lethefs@.service \
		./lib/systemd/system/lethefs-shred@.timer ./lib/systemd/system/lethefs-shred.timer \
		./usr/share/bash-completion/completions/lethefs ./usr/lib/lethefs/rotate-keys.sh \
		./usr/share/doc/lethefs/copyright ./usr/share/doc/lethefs/changelog.gz \
		./usr/share/doc/lethefs/NEWS.md ./usr/share/doc/lethefs/SECURITY.md \
		./usr/share/doc/lethefs/README.md ./usr/share/doc/lethefs/STAGING.md \
		./usr/share/doc/lethefs/ROTATION.md ./usr/lib/lethefs/boot-unlock.sh \
		./lib/systemd/system/lethefs-unlock@.service ./lib/systemd/system/lethefs-unlocked@.target \
		./usr/share/zsh/vendor-completions/_lethefs; do
		grep -qx -- "$f" "$DEBDIR/files" || { echo "missing $f"; return 1; }
	done
	dpkg-deb -x "$DEB" "$DEBDIR/y"
	file "$DEBDIR/y/usr/bin/lethefs" | grep -q ', stripped'
	grep -q '^ExecStart=/usr/bin/lethefs mount -f --locked' "$DEBDIR/y/lib/systemd/system/lethefs@.service"
	grep -q '^ExecStop=/usr/bin/lethefs umount ' "$DEBDIR/y/lib/systemd/system/lethefs@.service"
	! grep -rq /usr/local "$DEBDIR/y/lib/systemd/system" || return 1
	# Every unit's Documentation= file: link names a file of the package.
	docs=$(sed -n 's/^Documentation=//p' "$DEBDIR"/y/lib/systemd/system/* | tr ' ' '\n' |
		sed -n 's|^file:||p' | sort -u)
	[ -n "$docs" ]
	for d in $docs; do
		[ -f "$DEBDIR/y$d" ] || { echo "Documentation= names $d, not in the package"; return 1; }
	done
}

@test "no unit is enabled or started by the package's scripts" {
	dpkg-deb -e "$DEB" "$DEBDIR/ctl"
	cat "$DEBDIR"/ctl/post* "$DEBDIR"/ctl/pre* >"$DEBDIR/scripts" 2>/dev/null || true
	grep -q deb-systemd-helper "$DEBDIR/scripts"
	! grep -E 'deb-systemd-invoke|systemctl .*(start|restart|enable)' "$DEBDIR/scripts" || return 1
	# "enable" only re-creates the links of a unit that the admin had
	# enabled: with --no-enable, debhelper puts each was-enabled test (true
	# on a first install) under a debian-installed one (false then).
	n=$(grep -c 'deb-systemd-helper enable' "$DEBDIR/scripts" || true)
	[ "$(grep -c 'if deb-systemd-helper debian-installed' "$DEBDIR/scripts")" -eq "$n" ]
	! dpkg-deb -c "$DEB" | grep -q '\.wants/' || return 1
}

@test "lintian: no error, no warning" {
	command -v lintian >/dev/null || skip "lintian not installed"
	run lintian --fail-on error,warning "$DEBDIR"/lethefs_"$VERSION"_*.changes
	echo "$output"
	[ "$status" -eq 0 ]
	! echo "$output" | grep -q '^[EW]: ' || return 1
}

@test "apt resolves the package's dependencies on this Debian" {
	dpkg-deb -f "$DEB" Depends | grep -q 'libsodium23'
	dpkg-deb -f "$DEB" Depends | grep -q 'libfuse3-3'
	dpkg-deb -f "$DEB" Depends | grep -q 'fuse3'
	run apt-get -s install "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Inst lethefs"* ]]
}
