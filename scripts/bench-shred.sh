#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Shredding benchmark: a staging directory of N files (default 100,000) is
# filled through a real mount, then its TTL is cut to zero. Prints the time
# from that moment until the key file is gone from the backing store (the
# crypto-shredding bound: everything below is undecryptable from then on),
# until the directory is gone from the mount, and until the ciphertext is
# removed (the audit entry). Usage: scripts/bench-shred.sh [N]
set -euo pipefail
N=${1:-100000}
top=$(cd "$(dirname "$0")/.." && pwd)
L=${LETHEFS:-$top/build/lethefs}
T=$(mktemp -d /tmp/lethefs-bench-shred.XXXXXX)
trap 'fusermount3 -u "$T/mnt" 2>/dev/null || true; sleep 0.5; rm -rf "$T"' EXIT
mkdir -p "$T/mnt"
printf 'bench\n' >"$T/pass"
"$L" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/vault" >/dev/null
"$L" mount --passfile "$T/pass" "$T/vault" "$T/mnt"
"$L" stage create --ttl 1h "$T/mnt/job" >/dev/null
id=$(getfattr --only-values -n user.lethefs.id "$T/mnt/job")
echo "filling staging directory $id with $N files (100 per subdirectory)..."
python3 - "$T/mnt/job" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 100))
    if i % 100 == 0:
        os.mkdir(d)
    fd = os.open(os.path.join(d, "f%06d" % i), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"record %d\n" % i)
    os.close(fd)
PY
echo "cutting the TTL to 0 and timing..."
python3 - "$T/mnt/job" "$T/vault/staging/$id.key" "$T/vault" "$L" <<'PY'
import os, subprocess, sys, time
job, key, vault, lethefs = sys.argv[1:5]
t0 = time.monotonic()
os.setxattr(job, "user.lethefs.ttl", b"0")
tk = tm = None
while tk is None or tm is None:
    now = time.monotonic()
    if tk is None and not os.path.exists(key):
        tk = now
    if tm is None and not os.path.exists(job):
        tm = now
    time.sleep(0.001)
while True:
    log = subprocess.run([lethefs, "audit", "show", vault], capture_output=True, text=True).stdout
    if "stage-shred" in log:
        break
    time.sleep(0.05)
tr = time.monotonic()
line = [l for l in log.splitlines() if "stage-shred" in l][-1]
print("key destroyed after      %.3f s  (bound: 1 s after expiry + destruction)" % (tk - t0))
print("gone from the mount after %.3f s" % (tm - t0))
print("ciphertext removed after %.3f s" % (tr - t0))
print(line)
PY
