#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/bench-format.sh: the metadata-heavy operations whose cost the
# vault format decides (docs/PERFORMANCE.md, "Format 2"): extracting a tree
# of a few thousand files, listing it with ls -lR after a remount (cold
# FUSE caches), chmod -R of every object, and rm -rf of it. Each round uses
# a fresh vault; the medians over ROUNDS are printed, one line per step.
#
#   bash scripts/bench-format.sh [OUT]      # OUT: per-round times (TSV)
#
# Environment:
#   LETHEFS     the binary (default build/lethefs)
#   INIT_ARGS   extra arguments of `lethefs init`, e.g. "--format 1"
#   ROUNDS      rounds (default 5)
#   TREE_FILES  files taken from /usr/include (default 3000)
#   BENCH_DIR   work directory (default /var/tmp/lethefs-bench-format)
# Page caches are not dropped (the machine is shared): backing reads come
# from memory, so the figures are the daemon's CPU and system calls.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LETHEFS=${LETHEFS:-$REPO/build/lethefs}
ROUNDS=${ROUNDS:-5}
TREE_FILES=${TREE_FILES:-3000}
BENCH_DIR=${BENCH_DIR:-/var/tmp/lethefs-bench-format}
OUT=${1:-/dev/null}
read -r -a INIT <<<"${INIT_ARGS:-}"

mkdir -p "$BENCH_DIR"
W=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
MNT=$W/mnt
cleanup() {
	mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" || umount -l "$MNT"; }
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$MNT"
printf 'bench-passphrase\n' >"$W/pass"
TAR=$BENCH_DIR/tree-$TREE_FILES.tar
if [ ! -f "$TAR" ]; then
	(cd /usr && find include -type f | LC_ALL=C sort >"$W/all" &&
		sed -n "1,${TREE_FILES}p" "$W/all" >"$W/list" && tar -cf "$TAR" -T "$W/list")
fi

now() { date +%s.%N; }
timed() { # name command...
	local name=$1 t0 t1
	shift
	t0=$(now)
	"$@"
	t1=$(now)
	awk -v a="$t0" -v b="$t1" -v n="$name" -v r="$round" 'BEGIN { printf "%s\t%d\t%.3f\n", n, r, b - a }' >>"$W/times"
}
mount_it() { "$LETHEFS" mount --passfile "$W/pass" "$W/vault" "$MNT"; }
umount_it() {
	fusermount3 -u "$MNT"
	for _ in $(seq 150); do pgrep -f "lethefs mount .*$W/vault" >/dev/null || return 0; sleep 0.1; done
}

: >"$W/times"
for round in $(seq "$ROUNDS"); do
	rm -rf "$W/vault"
	"$LETHEFS" init --passfile "$W/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "${INIT[@]}" \
		"$W/vault" >/dev/null
	mount_it
	timed extract tar -xf "$TAR" -C "$MNT"
	timed sync sync -f "$MNT"
	umount_it
	mount_it
	timed ls-lR sh -c "ls -lR '$MNT' >/dev/null"
	timed ls-lR-warm sh -c "ls -lR '$MNT' >/dev/null"
	timed chmod-R chmod -R g+w "$MNT/include"
	timed rm-rf rm -rf "$MNT/include"
	umount_it
done
cat "$W/times" >"$OUT"
echo "median of $ROUNDS rounds, $TREE_FILES files ($LETHEFS ${INIT_ARGS:-})"
for step in extract sync ls-lR ls-lR-warm chmod-R rm-rf; do
	awk -F'\t' -v s="$step" '$1 == s { print $3 }' "$W/times" | sort -n |
		awk -v s="$step" '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%-11s %.3f s\n", s, m }'
done
