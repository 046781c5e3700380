#!/bin/sh
# Installs the Debian packages lethefs needs to build and test, when missing.
# Idempotent and quiet when everything is there already.
set -e
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in build-essential pkg-config libfuse3-dev fuse3 libsodium-dev libinih-dev \
         libcmocka-dev clang libclang-rt-14-dev cppcheck python3 bats attr sqlite3 rsync fio git xxd acl psmisc \
         procps file gdb strace socat clevis tang dpkg-dev groff-base man-db \
         qemu-user libfaketime; do
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
