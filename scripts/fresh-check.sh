#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make fresh-check: the README's set-up on a bare Debian 12, each time in a
# minimal chroot (mmdebstrap --variant=apt: apt only, no make, compiler or
# git) holding a clean clone of HEAD. Steps:
#   demo       ./setup.sh demo, the README's first command, on its first run
#   test       then ./setup.sh test, the second one, in the same chroot
#   make-demo  in another bare chroot, apt-get install make, then `make demo`
#              on its first run (for people who have make: the Makefile must
#              not need the -dev packages before it installs them)
# Reports the timings; removes the chroots and their mounts whatever happens.
#   scripts/fresh-check.sh [demo] [test] [make-demo]     (default: demo make-demo)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/chroot.sh"
steps=${*:-demo make-demo}
[ "$(id -u)" = 0 ] || { echo "fresh-check: run as root" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "fresh-check: /dev/fuse is missing" >&2; exit 1; }

dir=$(mktemp -d /var/tmp/lethefs-fresh.XXXXXX)
trap 'chroot_destroy "$dir/a"; chroot_destroy "$dir/b"; rm -rf "$dir"' EXIT INT TERM
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# A bare chroot in $1 with a clean clone of HEAD (what was committed,
# nothing else) where other users can read it: some tests run the binary
# as an unprivileged user.
bare_chroot() {
	t0=$(now)
	chroot_create "$1" >"$1.mmdebstrap.log" 2>&1 || {
		cat "$1.mmdebstrap.log" >&2
		echo "fresh-check: mmdebstrap failed" >&2
		exit 1
	}
	echo "fresh-check: minimal Debian 12 chroot (mmdebstrap --variant=apt) in $(secs "$t0" "$(now)") s"
	for tool in make cc gcc git pkg-config; do
		if chroot "$1/root" sh -c "command -v $tool" >/dev/null; then
			echo "fresh-check: the chroot is not bare: it has $tool" >&2
			exit 1
		fi
	done
	git clone -q --no-hardlinks "$top" "$1/root/usr/local/src/lethefs"
	echo "fresh-check: clone of $(git -C "$1/root/usr/local/src/lethefs" log -1 --format='%h %s' | cut -c1-70)"
}

# Runs command $3 in chroot $1 as step $2 and reports.
step() {
	log=$dir/$2.log
	echo "fresh-check: $2: '$3' (first run, as root, in the chroot)..."
	t0=$(now)
	rc=0
	chroot_run "$1" "cd /usr/local/src/lethefs && $3" >"$log" 2>&1 || rc=$?
	t1=$(now)
	if [ $rc -ne 0 ]; then
		mkdir -p "$top/build"
		cp "$log" "$top/build/fresh-check-$2.log"
		grep -E '^not ok|^\[' "$log" | head -n 20 || true
		tail -n 40 "$log"
		echo "fresh-check: FAILED: $3 exited $rc after $(secs "$t0" "$t1") s" \
			"(whole log: build/fresh-check-$2.log)"
		exit 1
	fi
	echo "fresh-check: $2 passed in $(secs "$t0" "$t1") s; its last line: $(tail -n 1 "$log" | cut -c1-90)"
}

case " $steps " in *" demo "* | *" test "*)
	bare_chroot "$dir/a"
	case " $steps " in *" demo "*) step "$dir/a" demo "./setup.sh demo" ;; esac
	case " $steps " in *" test "*) step "$dir/a" test "./setup.sh test" ;; esac
	chroot_destroy "$dir/a"
	;;
esac
case " $steps " in *" make-demo "*)
	bare_chroot "$dir/b"
	step "$dir/b" make-demo \
		"DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq make >/dev/null && make demo"
	;;
esac
echo "fresh-check: ok"
