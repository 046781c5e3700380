#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The README's set-up on a bare Debian 12 (as root): needs only sh and apt.
#   ./setup.sh demo    install the build dependencies (make and a compiler
#                      included), build, run the demo
#   ./setup.sh test    the same, plus the test tools; run every suite
# Any other make target works too (./setup.sh deb, ./setup.sh install).
# With make already installed, `make demo` and `make test` are the same.
set -e
cd "$(dirname "$0")"
[ $# -ge 1 ] || set -- demo
case $1 in -h | --help)
	sed -n '3,8s/^# \{0,1\}//p' "$0"
	exit 0
	;;
esac
# make itself is a build dependency; the make target installs the rest.
sh scripts/install-deps.sh build
exec make "$@"
