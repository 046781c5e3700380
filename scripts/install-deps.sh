#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages lethefs needs for a purpose, when missing:
#   scripts/install-deps.sh [PURPOSE...]      (default: build)
#   build  compiler, make, pkg-config and the -dev packages (plain `make`)
#   demo   build + fuse3 (make demo)
#   test   demo + every tool the test suite, fuzzing and analysis use (the
#          package test builds and lints the .deb)
#   deb    build + build-essential, debhelper and lintian (make deb)
#   fresh  mmdebstrap, for the chroots of make fresh-check and deb-check
# Needs only sh, dpkg and apt: it is what ./setup.sh runs first on a bare
# machine. Idempotent and quiet when everything is there already.
set -e
build="make gcc libc6-dev pkg-config libfuse3-dev libsodium-dev libinih-dev libsystemd-dev"
demo="$build fuse3"
test="$demo libcmocka-dev clang clang-format libclang-rt-14-dev cppcheck python3 bats attr sqlite3 rsync
      fio git xxd acl psmisc procps file gdb strace socat clevis tang dpkg-dev groff-base
      man-db systemd qemu-user zsh libfaketime glusterfs-server glusterfs-client"
deb="$build build-essential dpkg-dev debhelper lintian"
test="$test $deb"
fresh="mmdebstrap git"

want=""
for purpose in "${@:-build}"; do
	case $purpose in
	build) want="$want $build" ;;
	demo) want="$want $demo" ;;
	test) want="$want $test" ;;
	deb) want="$want $deb" ;;
	fresh) want="$want $fresh" ;;
	*)
		echo "install-deps: unknown purpose '$purpose' (build, demo, test, deb, fresh)" >&2
		exit 2
		;;
	esac
done

need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in $want; do
	case " $need " in *" $p "*) continue ;; esac
	have "$p" || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "lethefs: missing Debian packages:$need (run as root to install them)" >&2
	exit 1
fi
echo "lethefs: installing Debian packages:$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
