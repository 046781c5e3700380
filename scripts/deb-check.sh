#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make deb-check: the Debian package as an administrator meets it.
#  1. built twice (scripts/build-deb.sh, each in its own directory) with the
#     same SOURCE_DATE_EPOCH: the .debs must be byte-identical;
#  2. lintian: no error and no warning;
#  3. in a minimal Debian 12 chroot: apt-get install ./lethefs_*.deb
#     resolves the dependencies, the installed lethefs mounts a vault, no
#     unit is enabled, and apt-get purge (then autoremove --purge) leaves
#     the file system exactly as it was before the install.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/chroot.sh"
[ "$(id -u)" = 0 ] || { echo "deb-check: run as root" >&2; exit 1; }
dir=$(mktemp -d /var/tmp/lethefs-debcheck.XXXXXX)
trap 'chroot_destroy "$dir/chroot"; rm -rf "$dir"' EXIT INT TERM
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# 1. Reproducibility.
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' "$top/debian/changelog" | head -n1)" +%s)
export SOURCE_DATE_EPOCH
# The second build runs in another directory, time zone, locale and umask.
t0=$(now)
sh "$top/scripts/build-deb.sh" "$dir/out1" >/dev/null
echo "deb-check: build 1 (dpkg-buildpackage -b) in $(secs "$t0" "$(now)") s"
t0=$(now)
(umask 0002 && TZ=Pacific/Auckland LC_ALL=C.UTF-8 sh "$top/scripts/build-deb.sh" "$dir/out2" >/dev/null)
echo "deb-check: build 2 (other directory, TZ, locale, umask) in $(secs "$t0" "$(now)") s"
fail=0
for f in "$dir"/out1/*.deb; do
	b=$(basename "$f")
	if cmp -s "$f" "$dir/out2/$b"; then
		echo "deb-check: reproducible: $b $(sha256sum <"$f" | cut -c1-16)... identical in both builds"
	else
		echo "deb-check: NOT reproducible: $b differs between the two builds"
		fail=1
	fi
done
[ $fail -eq 0 ] || exit 1
deb=$(ls "$dir"/out1/lethefs_*.deb)

# 2. lintian.
echo "deb-check: lintian --fail-on error,warning:"
if ! lintian --fail-on error,warning "$dir"/out1/lethefs_*.changes >"$dir/lintian.log" 2>&1; then
	sed 's/^/    /' "$dir/lintian.log"
	echo "deb-check: lintian found errors or warnings"
	exit 1
fi
grep -v 'running with root privileges' "$dir/lintian.log" | sed 's/^/    /' || true
echo "deb-check: lintian: $(grep -c '^[EW]: ' "$dir/lintian.log" || true) errors and warnings"

# 3. Install and purge in a minimal chroot.
t0=$(now)
chroot_create "$dir/chroot" >"$dir/mmdebstrap.log" 2>&1 || {
	cat "$dir/mmdebstrap.log" >&2
	exit 1
}
echo "deb-check: minimal Debian 12 chroot in $(secs "$t0" "$(now)") s"
cp "$deb" "$dir/chroot/root/tmp/"
t0=$(now)
chroot_run "$dir/chroot" '
set -eu
export DEBIAN_FRONTEND=noninteractive
snapshot() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
		-o -path /var/cache -o -path /var/log -o -path /var/lib/apt -o -path /var/lib/dpkg \) -prune \
		-o -printf "%p %y %m\n" | sort
}
apt-get update -qq
snapshot >/tmp/before
apt-get install -y -qq /tmp/lethefs_*.deb >/tmp/install.log 2>&1 || { cat /tmp/install.log; exit 1; }
echo "installed: $(dpkg-query -W -f="\${Package} \${Version}" lethefs), with $(grep -c "^Setting up" /tmp/install.log) packages set up by apt"
lethefs --version
man_ok=$(test -f /usr/share/man/man1/lethefs.1.gz && echo yes)
[ "$man_ok" = yes ]
if ls /etc/systemd/system/*.wants 2>/dev/null | grep -q lethefs; then
	echo "a lethefs unit was enabled"; exit 1
fi
# The installed binary does its job: a vault, a mount, a file, umount, fsck.
mkdir -p /tmp/t/mnt && echo demo-pass >/tmp/t/pass
lethefs init --passfile /tmp/t/pass --kdf-ops 1 --kdf-mem 8M --allow-weak-kdf /tmp/t/v >/dev/null
lethefs mount --passfile /tmp/t/pass /tmp/t/v /tmp/t/mnt
echo hello >/tmp/t/mnt/f
lethefs umount /tmp/t/mnt
lethefs fsck --passfile /tmp/t/pass /tmp/t/v >/dev/null
rm -rf /tmp/t
echo "the installed lethefs mounted a vault, wrote, unmounted, fsck clean"
apt-get purge -y -qq lethefs >/dev/null
apt-get autoremove --purge -y -qq >/dev/null
if dpkg-query -W lethefs >/dev/null 2>&1; then echo "lethefs still known to dpkg"; exit 1; fi
snapshot >/tmp/after
# apt does not autoremove some dependencies (mount is Priority: required):
# what they left belongs to them. Anything else is lethefs'"'"' leftover.
diff /tmp/before /tmp/after | sed -n "s/^[<>] //p" | while read -r path type mode; do
	# (merged /usr: dpkg knows /bin/mount, not /usr/bin/mount)
	if [ -e "$path" ] && { dpkg -S "$path" || dpkg -S "${path#/usr}"; } >/dev/null 2>&1; then
		continue
	fi
	echo "left behind: $path ($type $mode)"
done >/tmp/left
if [ -s /tmp/left ]; then cat /tmp/left; echo "purge left the files above"; exit 1; fi
kept=$(diff /tmp/before /tmp/after | sed -n "s/^> //p" | cut -d" " -f1 | xargs -r dpkg -S 2>/dev/null |
	cut -d: -f1 | tr "," "\n" | sed "s/^ //" | sort -u | tr "\n" " ")
echo "purge + autoremove --purge: nothing of lethefs is left (kept by apt, not autoremovable: ${kept:-none})"
' >"$dir/chroot.log" 2>&1 || rc=$?
sed 's/^/    /' "$dir/chroot.log"
if [ "${rc:-0}" -ne 0 ]; then
	echo "deb-check: FAILED in the chroot (exit $rc)"
	exit 1
fi
echo "deb-check: install, use and purge in the chroot took $(secs "$t0" "$(now)") s"
echo "deb-check: ok"
