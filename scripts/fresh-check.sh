#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make fresh-check: the README's set-up on a bare Debian 12. Builds a
# minimal chroot (apt only), puts a clean clone of HEAD in it, runs the
# README's first command there (./setup.sh demo), and with "test" the
# second one too, then reports the timings. The chroot and its mounts are
# removed whatever happens.
#   scripts/fresh-check.sh [demo] [test]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/chroot.sh"
steps=${*:-demo}
[ "$(id -u)" = 0 ] || { echo "fresh-check: run as root" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "fresh-check: /dev/fuse is missing" >&2; exit 1; }

dir=$(mktemp -d /var/tmp/lethefs-fresh.XXXXXX)
trap 'chroot_destroy "$dir"' EXIT INT TERM
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t0=$(now)
chroot_create "$dir" >"$dir/mmdebstrap.log" 2>&1 || {
	cat "$dir/mmdebstrap.log" >&2
	echo "fresh-check: mmdebstrap failed" >&2
	exit 1
}
t1=$(now)
echo "fresh-check: minimal Debian 12 chroot (mmdebstrap --variant=apt) in $(secs "$t0" "$t1") s"
for tool in make cc gcc git pkg-config; do
	if chroot "$dir/root" sh -c "command -v $tool" >/dev/null; then
		echo "fresh-check: the chroot is not bare: it has $tool" >&2
		exit 1
	fi
done

# A clean clone of HEAD: what was committed, nothing else. Where other
# users can read it: some tests run the binary as an unprivileged user.
git clone -q --no-hardlinks "$top" "$dir/root/usr/local/src/lethefs"
echo "fresh-check: clone of $(git -C "$dir/root/usr/local/src/lethefs" log -1 --format='%h %s' | cut -c1-70)"

for step in $steps; do
	log=$dir/$step.log
	echo "fresh-check: ./setup.sh $step (first run, as root, in the chroot)..."
	t0=$(now)
	rc=0
	chroot_run "$dir" "cd /usr/local/src/lethefs && ./setup.sh $step" >"$log" 2>&1 || rc=$?
	t1=$(now)
	if [ $rc -ne 0 ]; then
		mkdir -p "$top/build"
		cp "$log" "$top/build/fresh-check-$step.log"
		grep -E '^not ok|^\[' "$log" | head -n 20 || true
		tail -n 40 "$log"
		echo "fresh-check: FAILED: ./setup.sh $step exited $rc after $(secs "$t0" "$t1") s" \
			"(whole log: build/fresh-check-$step.log)"
		exit 1
	fi
	echo "fresh-check: ./setup.sh $step passed in $(secs "$t0" "$t1") s; its last lines:"
	tail -n 3 "$log" | sed 's/^/    /'
done
echo "fresh-check: ok"
