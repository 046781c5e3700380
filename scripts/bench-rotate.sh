#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Rotation benchmark (issue: re-encryption throughput at least half of the
# volume's sequential write throughput; foreground I/O during rotation
# beside the idle figure). On one fresh vault with the production cipher:
#   1. idle sequential write: dd SIZE MiB through the mount, fdatasync
#   2. idle sequential read of that file, page cache dropped
#   3. rotate --wait over FILES files of SIZE MiB: re-encryption MB/s
#   4. a second rotation, with dd read then dd write in the foreground
# Prints the figures and their ratios. Usage: scripts/bench-rotate.sh
# [SIZE_MIB (default 512)] [FILES (default 3)]
set -euo pipefail
SIZE=${1:-512}
FILES=${2:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
L=${LETHEFS:-$top/build/lethefs}
T=$(mktemp -d /var/tmp/lethefs-bench-rotate.XXXXXX)
trap 'fusermount3 -u "$T/mnt" 2>/dev/null || true; sleep 1; rm -rf "$T"' EXIT
mkdir -p "$T/mnt"
printf 'bench\n' >"$T/pass"
"$L" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/vault" >/dev/null
"$L" mount --passfile "$T/pass" "$T/vault" "$T/mnt"

mbps() { python3 -c "print(round($1 / 1048576 / $2, 1))"; }
now() { date +%s.%N; }
elapsed() { python3 -c "print($(now) - $1)"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

bytes=$((SIZE * 1048576))
t=$(now)
dd if=/dev/zero of="$T/mnt/f1" bs=1M count="$SIZE" conv=fdatasync status=none
write_idle=$(mbps "$bytes" "$(elapsed "$t")")
for i in $(seq 2 "$FILES"); do cp "$T/mnt/f1" "$T/mnt/f$i"; done
drop_caches
t=$(now)
dd if="$T/mnt/f1" of=/dev/null bs=1M status=none
read_idle=$(mbps "$bytes" "$(elapsed "$t")")

drop_caches
t=$(now)
"$L" rotate --wait "$T/mnt" >/dev/null
rot=$(mbps $((bytes * FILES)) "$(elapsed "$t")")

# Second rotation with foreground I/O: reads and writes race the worker.
drop_caches
"$L" rotate "$T/mnt" >/dev/null
t=$(now)
dd if="$T/mnt/f$FILES" of=/dev/null bs=1M status=none
read_busy=$(mbps "$bytes" "$(elapsed "$t")")
t=$(now)
dd if=/dev/zero of="$T/mnt/w" bs=1M count=$((SIZE / 2)) conv=fdatasync status=none
write_busy=$(mbps $((bytes / 2)) "$(elapsed "$t")")
state=$("$L" status --json "$T/mnt" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("rotation_state"))')
"$L" rotate --wait "$T/mnt" >/dev/null

cat <<REPORT
lethefs rotation benchmark ($(date -u +%FT%TZ), ${FILES} x ${SIZE} MiB, $(nproc) cores)
  sequential write, idle          $write_idle MB/s
  sequential read, idle           $read_idle MB/s
  re-encryption (rotate --wait)   $rot MB/s  = $(python3 -c "print(round($rot / $write_idle, 2))")x the idle write
  sequential read during rotation $read_busy MB/s  = $(python3 -c "print(round($read_busy / $read_idle, 2))")x idle
  sequential write during rotation $write_busy MB/s  = $(python3 -c "print(round($write_busy / $write_idle, 2))")x idle
  (rotation state while the foreground I/O ran: $state)
REPORT
