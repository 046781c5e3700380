#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The product's main job on a demo vault: create it, mount it, write files
# through the mount as legacy software would, show that the backing store
# holds only ciphertext, prove integrity with fsck, unmount.
# Usage: scripts/demo.sh [LETHEFS_BINARY]   (DEMO_DIR overrides the location)
set -eu
lethefs=${1:-build/lethefs}
case $lethefs in /*) ;; *) lethefs=$(pwd)/$lethefs ;; esac
dir=${DEMO_DIR:-/var/tmp/lethefs-demo}
vault=$dir/vault
mnt=$dir/mnt

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if mountpoint -q "$mnt" 2>/dev/null; then "$lethefs" umount "$mnt"; fi
rm -rf "$dir"
mkdir -p "$mnt"
# A demo passphrase in a root-only file; real deployments type one or use a
# key provider (--extpass).
umask 077
head -c 24 /dev/urandom | base64 >"$dir/passphrase"

step "lethefs init: a new vault (Argon2id at its production cost: about a second)"
"$lethefs" init --passfile "$dir/passphrase" "$vault"
"$lethefs" info "$vault"

step "lethefs mount: the plaintext view"
"$lethefs" mount --passfile "$dir/passphrase" "$vault" "$mnt"
findmnt "$mnt"

step "legacy software writes plain files through the mount"
mkdir -p "$mnt/results/2026-11"
printf 'patient;test;value\nDUPONT Jeanne;HbA1c;6.1\nMARTIN Paul;HIV;negative\n' \
	>"$mnt/results/2026-11/batch-0042.csv"
printf 'DUPONT Jeanne, born 1975, social security number 2 75 05 75 123 456 78\n' \
	>"$mnt/results/patient-index.txt"
ln -s 2026-11/batch-0042.csv "$mnt/results/latest.csv"
ls -lR "$mnt"
echo "--- cat results/latest.csv through the mount:"
cat "$mnt/results/latest.csv"

step "what reaches the disk: the backing directory holds only ciphertext"
find "$vault/d" | sed "s|$vault/|  |"
f=$(find "$vault/d" -type f -size +100c | head -n1)
echo "--- first bytes of one backing file ($(basename "$f")):"
od -A d -t x1 "$f" | head -n 6
if grep -rqa -e DUPONT -e HbA1c -e results "$vault"; then
	echo "PLAINTEXT FOUND IN BACKING STORE" >&2
	exit 1
fi
echo "--- grep for 'DUPONT', 'HbA1c' or 'results' in the backing store: nothing found"

step "lethefs lock: keys wiped, still mounted; nothing is served until unlock"
"$lethefs" lock "$mnt"
"$lethefs" status "$mnt" | head -n 1
if cat "$mnt/results/latest.csv" 2>/dev/null; then
	echo "LOCKED VOLUME SERVED PLAINTEXT" >&2
	exit 1
fi
echo "--- cat $mnt/results/latest.csv: $(cat "$mnt/results/latest.csv" 2>&1 | sed 's/^cat: //')"
echo wrong >"$dir/wrong"
"$lethefs" unlock --passfile "$dir/wrong" "$mnt" || echo "(exit $?: wrong passphrase, refused and audited)"
"$lethefs" unlock --passfile "$dir/passphrase" "$mnt"
head -n 1 "$mnt/results/latest.csv"

step "migration staging: a directory that shreds itself when its TTL expires"
"$lethefs" stage create --ttl 4s "$mnt/export-job42"
cp -r "$mnt/results" "$mnt/export-job42/"
ls -R "$mnt/export-job42" | head -n 6
"$lethefs" stage list "$mnt"
echo "--- its own key and ciphertext in the vault (outside the tree, no key needed to find them):"
ls "$vault/staging" | sed 's/^/  /'
echo "--- waiting for the TTL to expire..."
for _ in $(seq 100); do
	[ -e "$mnt/export-job42" ] || break
	sleep 0.1
done
sleep 1
ls "$mnt/export-job42" 2>&1 | sed 's/^/  /'
echo "--- the vault's staging area now:"
ls "$vault/staging" | sed 's/^/  /'
if grep -rqa -e DUPONT "$vault/staging" 2>/dev/null; then
	echo "PLAINTEXT FOUND" >&2
	exit 1
fi

step "the audit log: every security event, chained and authenticated"
"$lethefs" audit show "$vault" | cut -c 1-150
"$lethefs" audit verify --passfile "$dir/passphrase" "$vault"

step "lethefs umount, then fsck: every name and block authenticates"
# Returns once the daemon has written its last audit entry and exited, and
# the vault is synced (plain umount returns before that).
"$lethefs" umount "$mnt"
"$lethefs" fsck --passfile "$dir/passphrase" "$vault"

step "tampering is detected, never served as plaintext"
printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
"$lethefs" fsck --passfile "$dir/passphrase" "$vault" || echo "(fsck exit code $?: corruption reported)"

echo "Demo vault left in $vault (passphrase in $dir/passphrase)."
