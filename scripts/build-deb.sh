#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian packages (lethefs and lethefs-dbgsym) with
# dpkg-buildpackage from a copy of the tracked files, so that the work tree
# and its build/ stay as they are:
#   scripts/build-deb.sh OUT_DIR
# Leaves OUT_DIR/lethefs_VERSION_ARCH.deb, the -dbgsym .deb, .changes and
# .buildinfo, and prints the .deb's path. SOURCE_DATE_EPOCH defaults to the
# changelog's date (dpkg-buildpackage's own default), so two builds of one
# tree give identical packages.
set -eu
out=$1
top=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n '1s/^lethefs (\([^)]*\)).*/\1/p' "$top/debian/changelog")
arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/lethefs-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/lethefs-$version
mkdir -p "$src"
# The tracked files as they are in the work tree (committed or not).
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z | (cd "$top" && xargs -0 tar -cf - --no-recursion) |
		tar -xf - -C "$src"
else
	(cd "$top" && tar -cf - --exclude='./build*' .) | tar -xf - -C "$src"
fi
jobs=$(nproc 2>/dev/null || echo 1)
[ "$jobs" -le 2 ] || jobs=2
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) || {
	tail -n 40 "$work/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed" >&2
	exit 1
}
for f in "$work"/lethefs*_"$version"_*; do
	cp "$f" "$out/"
done
echo "$out/lethefs_${version}_${arch}.deb"
