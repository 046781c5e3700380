#!/bin/bash
# How tests/data/format-v2-vault.tar.gz was made (once, by the first
# format-2 build; 09-format-compat.bats opens it with every later build).
# Not run by the tests: a saved vault must stay the bytes that build wrote.
#
#   bash tests/data/make-format-v2.sh build/lethefs OUTDIR
#
# Besides what the format-1 example holds (a UTF-8 directory, a file ending
# past a block boundary, a hard link, a symlink, a 20 MiB sparse file, a
# 250-byte name, a FIFO, an xattr), it holds what format 2 keeps in its
# records: modes with set-ID and sticky bits, other owners and groups, a
# character device, a socket, a 4,000-byte symlink target, an ACL.
set -euo pipefail
LETHEFS=$(realpath "$1")
OUT=$(realpath "$2")
T=$(mktemp -d /tmp/lethefs-fv2.XXXXXX)
trap 'mountpoint -q "$T/mnt" && fusermount3 -u "$T/mnt"; rm -rf "$T"' EXIT
printf 'format-2 example vault\n' >"$T/pass"
"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/fv2" >/dev/null
mkdir "$T/mnt"
"$LETHEFS" mount --passfile "$T/pass" -o allow_dev,allow_other "$T/fv2" "$T/mnt"
cd "$T/mnt"
chmod 0755 .
mkdir -p "Résultats/2026"
printf 'patient;result\nJ. Roe;negative\n' >"Résultats/2026/batch.csv"
setfattr -n user.origin -v lab-7 "Résultats/2026/batch.csv"
head -c 10003 /dev/zero | tr '\0' 'b' >block-boundary
ln block-boundary hardlink
ln -s "Résultats/2026/batch.csv" latest
truncate -s 20971520 sparse
printf abc >>sparse
printf 'long\n' >"$(printf 'n%.0s' $(seq 250))"
mkfifo fifo
python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')"
mknod null-device c 1 3
ln -s "$(python3 -c "print(('/seg-' * 800)[:3999] + 'Z')")" long-link
printf 'secret\n' >private
chmod 0640 private
chown 1234:5678 private
mkdir shared
chmod 3775 shared
chgrp 5678 shared
printf '#!/bin/sh\n' >shared/tool
chmod 4755 shared/tool
mkdir sticky
chmod 1777 sticky
printf 'acl\n' >with-acl
setfacl -m u:4321:r with-acl
cd /
fusermount3 -u "$T/mnt"
for _ in $(seq 150); do pgrep -f "lethefs mount .*$T/fv2" >/dev/null || break; sleep 0.1; done
"$LETHEFS" mount --passfile "$T/pass" -o allow_dev "$T/fv2" "$T/mnt"
(cd "$T/mnt" && find . -printf '%y %m %U %G %p\n' | LC_ALL=C sort) >"$OUT/format-v2.listing"
(cd "$T/mnt" && find . -type f -exec sha256sum {} + | LC_ALL=C sort) >"$OUT/format-v2.sha256"
fusermount3 -u "$T/mnt"
for _ in $(seq 150); do pgrep -f "lethefs mount .*$T/fv2" >/dev/null || break; sleep 0.1; done
rm -rf "$T/fv2/lethefs.audit" "$T/fv2/lethefs.audit.head" "$T/fv2/lethefs.journal" "$T/fv2/staging"
tar --xattrs --xattrs-include='user.*' -S -C "$T" -czf "$OUT/format-v2-vault.tar.gz" fv2
cp "$T/pass" "$OUT/format-v2.pass"
