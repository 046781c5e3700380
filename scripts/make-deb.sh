#!/bin/sh
# Builds a Debian package of lethefs from an existing build:
#   scripts/make-deb.sh BUILD_DIR OUT_DIR
# The binary, man pages, systemd units and bash completion are installed
# under /usr (make install PREFIX=/usr DESTDIR=...), the library
# dependencies are computed by dpkg-shlibdeps from the binary itself, and
# fuse3 (for fusermount3 and mount.fuse3) is added. Prints the .deb path.
set -eu
build=$1
out=$2
top=$(cd "$(dirname "$0")/.." && pwd)
version=$("$top/$build/lethefs" --version | sed -n 's/^lethefs //p')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d /tmp/lethefs-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
make -s -C "$top" install BUILD="$build" PREFIX=/usr DESTDIR="$stage/root" >/dev/null
# systemd units live in /lib/systemd/system on Debian 12 (not merged /usr).
mkdir -p "$stage/root/lib/systemd"
mv "$stage/root/usr/lib/systemd/system" "$stage/root/lib/systemd/system"
rmdir "$stage/root/usr/lib/systemd" "$stage/root/usr/lib" 2>/dev/null || true
gzip -9n "$stage/root/usr/share/man/man1/lethefs.1" "$stage/root/usr/share/man/man5/lethefs.conf.5"
mkdir -p "$stage/root/usr/share/doc/lethefs"
for d in README.md docs/*.md; do
	gzip -9nc "$top/$d" >"$stage/root/usr/share/doc/lethefs/$(basename "$d").gz"
done

# dpkg-shlibdeps wants a debian/control next to it.
mkdir -p "$stage/debian"
printf 'Source: lethefs\n\nPackage: lethefs\nArchitecture: any\n' >"$stage/debian/control"
deps=$(cd "$stage" && dpkg-shlibdeps -O "root/usr/bin/lethefs" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')

mkdir -p "$stage/root/DEBIAN"
size=$(du -sk "$stage/root" | cut -f1)
cat >"$stage/root/DEBIAN/control" <<CONTROL
Package: lethefs
Version: $version
Architecture: $arch
Maintainer: lethefs developers <root@localhost>
Installed-Size: $size
Depends: $deps, fuse3
Section: admin
Priority: optional
Description: encrypted FUSE filesystem for sensitive data stores
 lethefs encrypts file contents and names transparently, releases keys only
 after an authenticated unlock, can lock a mounted volume again, rotates
 keys online, crypto-shreds migration staging directories when their TTL
 expires, and records every security event in a tamper-evident audit log.
CONTROL
deb="$out/lethefs_${version}_${arch}.deb"
mkdir -p "$out"
dpkg-deb --root-owner-group --build "$stage/root" "$deb" >/dev/null
echo "$deb"
