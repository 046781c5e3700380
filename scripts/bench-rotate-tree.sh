#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Rotation of many small files against writing them (issue 22): on one
# fresh vault per size, in one run on one disk,
#   1. create N files of 4 KiB through the mount, 1,000 per directory,
#      two levels (d0000/f000 ...), then syncfs: the create time;
#   2. drop the page cache, `lethefs rotate --wait`: the rotate time.
# Prints, per size, create s, rotate s, their ratio (the target is <= 1.0)
# and the rotation's files/s, and the CPU time the daemon used while it
# rotated (user + system: beside the rotate time, how much of it was CPU).
# Usage: scripts/bench-rotate-tree.sh [N ...]   (default: 10000 100000)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
L=${LETHEFS:-$top/build/lethefs}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
T=$(mktemp -d /var/tmp/lethefs-bench-rtree.XXXXXX)
cleanup() {
	mountpoint -q "$T/mnt" && fusermount3 -u "$T/mnt" 2>/dev/null
	sleep 1
	rm -rf "$T"
}
trap cleanup EXIT
printf 'bench\n' >"$T/pass"
now() { date +%s.%N; }
elapsed() { python3 -c "print(round($(now) - $1, 2))"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# CPU seconds (user + system) the daemon has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

# Writes n files of 4 KiB below root, 1,000 per directory, then syncfs.
create_tree() {
	python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
data = os.urandom(4096)
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.mkdir(d)
    fd = os.open(os.path.join(d, "f%03d" % (i % 1000)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.close(fd)
fd = os.open(root, os.O_RDONLY)
os.syncfs(fd) if hasattr(os, "syncfs") else os.sync()
os.close(fd)
PY
}

printf '%-8s %10s %10s %7s %11s %12s\n' files create_s rotate_s ratio rot_files/s daemon_cpu_s
for n in "${sizes[@]}"; do
	rm -rf "$T/vault" "$T/mnt"
	mkdir -p "$T/mnt"
	"$L" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/vault" >/dev/null 2>&1
	"$L" mount --passfile "$T/pass" "$T/vault" "$T/mnt"
	drop_caches
	t=$(now)
	create_tree "$T/mnt" "$n"
	create=$(elapsed "$t")
	drop_caches
	pid=$(pgrep -f -- "$T/vault" | head -1)
	c0=$(cpu_of "$pid")
	t=$(now)
	"$L" rotate --wait "$T/mnt" >/dev/null
	rotate=$(elapsed "$t")
	cpu=$(python3 -c "print(round($(cpu_of "$pid") - $c0, 1))")
	left=$("$L" status --json "$T/mnt" | python3 -c \
		'import json,sys; s=json.load(sys.stdin); print(s.get("rotation_state"), len(s.get("rotation_old_epochs") or []))')
	fusermount3 -u "$T/mnt"
	sleep 1
	printf '%-8s %10s %10s %7s %11s %12s  (%s; load %s)\n' "$n" "$create" "$rotate" \
		"$(python3 -c "print(round($rotate / $create, 2))")" \
		"$(python3 -c "print(int($n / $rotate))")" "$cpu" "state after: $left" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
done
