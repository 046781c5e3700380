#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A minimal Debian 12 chroot (mmdebstrap --variant=apt: apt and the
# essential packages, no make, no compiler, no git), for make fresh-check
# and make deb-check. Sourced; defines:
#   chroot_create DIR     build it in DIR/root (apt sources and settings
#                         as on this machine, or FRESH_MIRROR)
#   chroot_run DIR CMD    run CMD with sh -c as root in it, in a private
#                         mount namespace with /proc, /sys, /dev/fuse and
#                         a /run tmpfs: whatever it mounts (FUSE included)
#                         vanishes with that namespace
#   chroot_destroy DIR    kill what still runs in it, unmount what is left
#                         under DIR, delete DIR
# Runs as root.

chroot_create() {
	_c=$1
	mkdir -p "$_c"
	# The archive this machine uses, and the apt settings that make it
	# reachable (proxy, validity of snapshot archives).
	set --
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		[ -s "$f" ] && set -- "$@" "$f"
	done
	[ -z "${FRESH_MIRROR:-}" ] || set -- "$FRESH_MIRROR"
	_opts=$(apt-config dump | sed -n \
		's/^\(Acquire::Check-Valid-Until\|Acquire::Check-Date\|Acquire::https\?::Proxy\) \(.*\);$/\1 \2;/p')
	printf '%s\n' "$_opts" >"$_c/apt.conf"
	mmdebstrap --variant=apt --quiet --aptopt="$_c/apt.conf" bookworm "$_c/root" "$@"
}

chroot_run() {
	_c=$1
	shift
	unshare --mount --propagation private /bin/sh -ec '
		r=$1
		shift
		# The chroot'"'"'s / a mount point of its own, as on a real system
		# (unshare --propagation and pivot_root need that).
		mount --bind "$r" "$r"
		mount -t proc proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount -t tmpfs -o mode=0755 run "$r/run"
		mkdir -p "$r/dev/pts"
		mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
		touch "$r/dev/fuse"
		mount --bind /dev/fuse "$r/dev/fuse"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root TERM=dumb LANG=C.UTF-8 /bin/sh -c "$1"
	' chroot-run "$_c/root" "$@"
}

chroot_destroy() {
	_c=$1
	[ -d "$_c/root" ] || { rm -rf "$_c"; return 0; }
	_root=$(cd "$_c/root" && pwd -P)
	# Processes left running in it (a daemon after a failed demo): ours.
	for _p in /proc/[0-9]*; do
		[ "$(readlink "$_p/root" 2>/dev/null)" = "$_root" ] && kill -KILL "${_p#/proc/}" 2>/dev/null
	done
	sleep 0.2
	# Mounts normally die with the namespace; anything visible here under
	# DIR is ours too.
	findmnt -rn -o TARGET | grep -F "$_root/" | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$_c"
}
