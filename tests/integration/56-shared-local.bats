#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Two hosts sharing one vault in a plain local directory (-o shared,
# docs/SHARED.md), each a mount and UTS namespace of its own (own host
# name, own /run/lethefs), as in 53-shared-audit.bats: what the GlusterFS
# file (52) checks on the engine, and what an engine is not needed for.
# The local directory has what the probe asks for (OFD locks that conflict
# between the two daemons, RENAME_NOREPLACE), so this is the path of a
# shared mount on a cluster filesystem that has them (CephFS, NFSv4).

load helpers
load hosts

W=$BATS_TEST_DIRNAME/shared_writer.py

setup() {
	setup_vault
	# Tests named "FUSE engine": the vault lies in another lethefs mount
	# (exclusive, kernel timeouts 0), a FUSE filesystem that both hosts
	# reach through one kernel: the path of a network engine (the probe
	# says "network/FUSE engine") without GlusterFS. (The fallocate
	# reservation is kept and lookups fstat here: GlusterFS alone skips
	# the one and takes statx AT_STATX_DONT_SYNC attributes for the other.)
	if [[ "$BATS_TEST_DESCRIPTION" == *"FUSE engine"* ]]; then
		OUTER=$T/outer HOSTS_KEEP=$T/outer
		mkdir -p "$OUTER"
		"$LETHEFS" mount --passfile "$T/pass" -o attr_timeout=0,entry_timeout=0 "$VAULT" "$OUTER"
		VAULT=$OUTER/vault
		"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$VAULT" >/dev/null
		run "$LETHEFS" info --backing "$VAULT"
		[[ "$output" == *"fuse.lethefs (network/FUSE engine)"* ]]
	fi
	mkdir -p "$T/mlrtA" "$T/mlrtB"
	HOSTS_DIR=$T
	hosts_start lrtA lrtB
}

teardown() {
	hosts_stop "lethefs mount .*$VAULT" lrtA lrtB
	if [ -n "${OUTER:-}" ]; then
		VAULT=$T/vault MNT=$OUTER
	fi
	teardown_vault
}

mount_both() {
	for h in lrtA lrtB; do
		on_host $h "$LETHEFS" mount -o shared --passfile "$T/pass" "$VAULT" "$T/m$h"
	done
}

umount_both() {
	for h in lrtA lrtB; do
		on_host $h "$LETHEFS" umount "$T/m$h"
	done
	for _ in $(seq 150); do
		pgrep -f "lethefs mount .*$VAULT" >/dev/null || return 0
		sleep 0.1
	done
}

@test "shared: a directory the other host adopted as staging: its files are found by name, and new ones are made under its names" {
	mount_both
	A=$T/mlrtA B=$T/mlrtB
	# Host A knows the directory (made it, so its .lethefs.dir is cached).
	on_host lrtA mkdir "$A/job"
	on_host lrtA stat "$A/job" >/dev/null
	# Host B adopts it as staging (a new .lethefs.dir: the staging key's
	# epoch and a new directory id) and writes a file into it.
	on_host lrtB setfattr -n user.lethefs.ttl -v 72h "$B/job"
	on_host lrtB sh -c "echo from-B >$B/job/fromB"
	# Host A opens it by name, without listing the directory first.
	run on_host lrtA cat "$A/job/fromB"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = from-B ]
	# A file host A makes there carries the directory's names: host B
	# finds it and lists it.
	on_host lrtA sh -c "echo from-A >$A/job/fromA"
	run on_host lrtB cat "$B/job/fromA"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = from-A ]
	run on_host lrtB ls "$B/job"
	[ "$output" = "$(printf 'fromA\nfromB')" ]
	umount_both
	fsck_clean
}

@test "shared: a process inside a directory the other host then adopted as staging finds the files made there" {
	# The process's working directory is never looked up again, so no
	# lookup meets its new marker: the host learns of the adoption from
	# the staging index (its tick, about once a second: SHARED.md) and
	# gives the inode it holds the staging id and drops its old
	# .lethefs.dir (staging/stage_inval.c, lfs_stage_restage). Without
	# that, the name is not found (ENOENT), or on older builds found and
	# opened under the vault's key (EIO).
	mount_both
	A=$T/mlrtA B=$T/mlrtB
	on_host lrtA mkdir "$A/job"
	on_host lrtA sh -c "cd $A/job && touch ready && while [ ! -e $T/adopted ]; do sleep 0.1; done && cat fromB" >"$T/out" 2>&1 &
	p=$!
	for _ in $(seq 100); do on_host lrtA test -e "$A/job/ready" && break; sleep 0.1; done
	on_host lrtB rm "$B/job/ready"
	on_host lrtB setfattr -n user.lethefs.ttl -v 72h "$B/job"
	on_host lrtB sh -c "echo from-B >$B/job/fromB"
	sleep 2.5 # host A's tick merges the index
	touch "$T/adopted"
	wait $p || true
	cat "$T/out"
	[ "$(cat "$T/out")" = from-B ]
	umount_both
	fsck_clean
}

@test "shared: two hosts write disjoint ranges of one file at once, large chunks sealed on several threads, nothing lost" {
	mount_both
	# 300001-byte chunks: each request holds more than 32 whole blocks
	# (fs/fileio_seal.c seals them on the pool) and a partial block at
	# both ends that the other host's chunk shares.
	on_host lrtA touch "$T/mlrtA/big.bin"
	on_host lrtA python3 "$W" write "$T/mlrtA/big.bin" 0 24 300001 &
	a=$!
	on_host lrtB python3 "$W" write "$T/mlrtB/big.bin" 1 24 300001 &
	b=$!
	wait $a
	wait $b
	for h in lrtA lrtB; do
		run on_host $h python3 "$W" check "$T/m$h/big.bin" 24 300001
		echo "$output"
		[ "$status" -eq 0 ]
	done
	umount_both
	fsck_clean
}

@test "shared: two hosts append to one file at once in large misaligned chunks, nothing lost" {
	mount_both
	on_host lrtA touch "$T/mlrtA/app.bin"
	on_host lrtA python3 "$W" write "$T/mlrtA/app.bin" 0 40 200003 ascending &
	a=$!
	on_host lrtB python3 "$W" write "$T/mlrtB/app.bin" 1 40 200003 ascending &
	b=$!
	wait $a
	wait $b
	for h in lrtA lrtB; do
		run on_host $h python3 "$W" check "$T/m$h/app.bin" 40 200003
		echo "$output"
		[ "$status" -eq 0 ]
	done
	umount_both
	fsck_clean
}

@test "shared: sub-block writes of both hosts into one block and the tail, nothing lost" {
	mount_both
	# 1000-byte chunks: four or five of them, of both hosts, share each
	# block, and the file's last block changes hands at every append.
	on_host lrtA touch "$T/mlrtA/small.bin"
	on_host lrtA python3 "$W" write "$T/mlrtA/small.bin" 0 400 1000 ascending &
	a=$!
	on_host lrtB python3 "$W" write "$T/mlrtB/small.bin" 1 400 1000 ascending &
	b=$!
	wait $a
	wait $b
	for h in lrtA lrtB; do
		run on_host $h python3 "$W" check "$T/m$h/small.bin" 400 1000
		echo "$output"
		[ "$status" -eq 0 ]
	done
	umount_both
	fsck_clean
}

@test "shared on a FUSE engine: a size or time changed on one host is what the other's lookup shows at once" {
	# Every lookup of the other host takes the attributes the engine has
	# (fs/ops_entry.c, stat_just_opened), never older ones.
	mount_both
	on_host lrtA mkdir -p "$T/mlrtA/fresh"
	for i in $(seq 25); do
		on_host lrtA sh -c "head -c $((i * 997 + 13)) /dev/zero >$T/mlrtA/fresh/f &&
			touch -m -d @$((1700000000 + i)) $T/mlrtA/fresh/f"
		got=$(on_host lrtB stat -c '%s %Y' "$T/mlrtB/fresh/f")
		[ "$got" = "$((i * 997 + 13)) $((1700000000 + i))" ] ||
			{ echo "round $i: lrtB sees $got"; false; }
	done
	umount_both
	fsck_clean
}

@test "shared on a FUSE engine: both hosts append large and sub-block chunks to one file, nothing lost" {
	mount_both
	for spec in "app.bin 40 200003" "small.bin 300 1000"; do
		set -- $spec
		on_host lrtA touch "$T/mlrtA/$1"
		on_host lrtA python3 "$W" write "$T/mlrtA/$1" 0 "$2" "$3" ascending &
		a=$!
		on_host lrtB python3 "$W" write "$T/mlrtB/$1" 1 "$2" "$3" ascending &
		b=$!
		wait $a
		wait $b
		for h in lrtA lrtB; do
			run on_host $h python3 "$W" check "$T/m$h/$1" "$2" "$3"
			echo "$output"
			[ "$status" -eq 0 ]
		done
	done
	umount_both
	fsck_clean
}

@test "shared: large writes of one host while the other rotates the data key: every byte as written, under the new epoch" {
	mount_both
	A=$T/mlrtA B=$T/mlrtB
	on_host lrtA sh -c "mkdir $A/bulk; for i in \$(seq 200); do head -c 4096 /dev/urandom >$A/bulk/b\$i; done"
	on_host lrtB mkdir "$B/work"
	rm -f "$T/stop"
	# Host B: whole files and an appended file, 1 MiB requests and
	# misaligned ones, their SHA-256 kept outside the vault.
	on_host lrtB python3 -c '
import hashlib, os, sys
d, stop, sums = sys.argv[1:4]
log = open(sums, "w")
app = os.open(d + "/appended", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
i = 0
while not os.path.exists(stop) or i < 4:
    i += 1
    data = os.urandom(600001 + i * 4099)
    with open("%s/f%d" % (d, i), "wb") as f:
        f.write(data)
    os.write(app, data[:300003])
    log.write("f%d %s\n" % (i, hashlib.sha256(data).hexdigest()))
    log.flush()
os.close(app)
' "$B/work" "$T/stop" "$T/sums" &
	worker=$!
	on_host lrtA "$LETHEFS" rotate "$A"
	for _ in $(seq 300); do
		[[ "$(on_host lrtA "$LETHEFS" status --json "$A")" == *'"rotation_state":"idle"'* ]] && break
		sleep 0.2
	done
	touch "$T/stop"
	wait "$worker"
	[[ "$(on_host lrtA "$LETHEFS" status --json "$A")" == *'"rotation_epoch":2'* ]]
	n=0
	while read -r name sum; do
		n=$((n + 1))
		for h in lrtA lrtB; do
			got=$(on_host $h sha256sum "$T/m$h/work/$name" | cut -d' ' -f1)
			[ "$got" = "$sum" ] || { echo "$h: $name differs"; false; }
		done
	done <"$T/sums"
	[ "$n" -ge 4 ]
	[ "$(on_host lrtA stat -c %s "$A/work/appended")" -eq $((n * 300003)) ]
	umount_both
	fsck_clean
}

@test "shared: a chmod or chown on one host is what the other host shows at its next stat" {
	# The record (mode, owner) lives in the file's header, which a host
	# caches; another host's chmod rewrites it in place and moves the
	# backing change time, by which the next stat reads it again
	# (fs/attr.c, lfs_attr_stat). The kernel checks permissions against
	# these attributes (default_permissions, attribute timeout 0 in shared
	# mode): what stat shows is what is enforced.
	mount_both
	A=$T/mlrtA B=$T/mlrtB
	on_host lrtA sh -c "echo secret >$A/f && chmod 644 $A/f"
	run on_host lrtB stat -c %a "$B/f"
	[ "$output" = 644 ]
	for mode in 600 640 444; do
		on_host lrtA chmod $mode "$A/f"
		run on_host lrtB stat -c %a "$B/f"
		echo "mode on host B after host A's chmod $mode: $output"
		[ "$output" = $mode ]
	done
	on_host lrtA chown 65534:65534 "$A/f"
	run on_host lrtB stat -c %u:%g "$B/f"
	[ "$output" = 65534:65534 ]
	run on_host lrtB cat "$B/f"
	[ "$output" = secret ]
	umount_both
	fsck_clean
}

@test "shared: another host's chmod shows at the next stat of a host that holds the file open for writing" {
	# With a writer open on host B, B reads a moved record again through
	# that writer's descriptor (fs/attr.c, read_head) rather than an open
	# of its own: it must still see what host A wrote.
	mount_both
	A=$T/mlrtA B=$T/mlrtB
	on_host lrtA sh -c "echo secret >$A/f && chmod 644 $A/f"
	on_host lrtB python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"more\n")
open(sys.argv[2], "w").write("%d\n" % os.getpid())
time.sleep(30)' "$B/f" "$T/held" &
	holder=$!
	wait_for_file "$T/held"
	sleep 0.2
	for mode in 600 640 444; do
		on_host lrtA chmod $mode "$A/f"
		run on_host lrtB stat -c %a "$B/f"
		echo "mode on host B (writer open) after host A's chmod $mode: $output"
		[ "$output" = $mode ]
	done
	on_host lrtA chown 65534:65534 "$A/f"
	run on_host lrtB stat -c %u:%g "$B/f"
	[ "$output" = 65534:65534 ]
	kill "$(cat "$T/held")"
	wait $holder || true
	run on_host lrtA cat "$A/f"
	[ "$output" = "$(printf 'secret\nmore')" ]
	umount_both
	fsck_clean
}

@test "shared: a host that holds the staging index lock long does not stall the other host's lookups in staging directories" {
	mount_both
	A=$T/mlrtA B=$T/mlrtB
	on_host lrtA mkdir "$A/job"
	on_host lrtA setfattr -n user.lethefs.ttl -v 72h "$A/job"
	on_host lrtA sh -c "echo staged >$A/job/f"
	[ "$(on_host lrtB cat "$B/job/f")" = staged ]
	# Stand for a host stuck while it holds the index lock (lease byte 3,
	# FORMAT.md 13.1; on GlusterFS a brick that stalled its open of the
	# index): each host's once-a-second poll of the index then finds it
	# busy. It once waited with the staging table locked, and every
	# lookup in a staging directory on that host waited behind it (host B
	# hung in `test -e` for 28 minutes in a full run).
	python3 - "$VAULT/lethefs.lease" "$T/held" <<'PY' &
import fcntl, os, struct, sys, time
lk = struct.pack("@hhqqixxxx", fcntl.F_WRLCK, os.SEEK_SET, 3, 1, 0)
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, lk)
open(sys.argv[2], "w").close()
time.sleep(3600)
PY
	holder=$!
	wait_for_file "$T/held"
	# A lookup stuck behind the lock cannot be interrupted: the holder
	# goes after 10 s whatever happens, so that a failure ends.
	(sleep 10 && kill "$holder" 2>/dev/null) &
	watchdog=$!
	sleep 2.5 # past a poll tick of both hosts
	t0=$(date +%s%N)
	run on_host lrtB cat "$B/job/f"
	t1=$(date +%s%N)
	kill "$holder" "$watchdog" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	echo "$output, $(((t1 - t0) / 1000000)) ms"
	[ "$status" -eq 0 ]
	[ "$output" = staged ]
	[ $(((t1 - t0) / 1000000)) -lt 5000 ]
	umount_both
	fsck_clean
}
