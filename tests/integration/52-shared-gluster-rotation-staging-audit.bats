#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# One vault on a GlusterFS replica-2 volume, mounted by two hosts at once
# (-o shared; docs/SHARED.md), and what runs across both hosts: a data-key
# rotation while the other host works (and names made right after it),
# staging directories (quota, shred, expiry role), each host's audit log.
# The engine, the hosts and the vault are set up by
# tests/integration/gluster.bash, as for 52-shared-gluster.bats.

load helpers
load gluster

setup_file() { gluster_vault_setup_file; }
teardown_file() { gluster_vault_teardown_file; }
setup() { gluster_vault_setup; }
teardown() { gluster_vault_teardown; }

# A tree with contents, names of every length class, symlinks and xattrs.
populate_on() {
	local h=$1 root=$2
	on_host "$h" sh -c "
		mkdir -p $root/d1/sub $root/d2
		for i in \$(seq 30); do head -c \$((i * 4000 + 17)) /dev/urandom >$root/d1/f\$i; done
		for i in \$(seq 20); do head -c 200000 /dev/urandom >$root/d1/sub/g\$i; done
		ln -s ../d1/f1 $root/d2/link
		setfattr -n user.tag -v patient-4711 $root/d1/f2
		echo small >$root/d2/\$(printf 'L%.0s' \$(seq 200))"
}

sums_on() {
	on_host "$1" sh -c "cd $2 && find . -path ./work -prune -o -type f -print | sort | xargs sha256sum"
}

@test "shared: rotation on one host while the other reads and writes: one walker, every host moves" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	populate_on hostA "$G/lhostA"
	# Enough small files that the batched rotation (docs/ROTATION.md) is
	# still running when both hosts are asked.
	on_host hostA sh -c "mkdir $G/lhostA/bulk; for i in \$(seq 400); do
		head -c 4096 /dev/urandom >$G/lhostA/bulk/b\$i; done"
	before=$(sums_on hostA "$G/lhostA")
	on_host hostB mkdir "$G/lhostB/work"
	rm -f "$G/stop"
	on_host hostB sh -c "i=0; while [ ! -e $G/stop ]; do i=\$((i + 1));
		echo line \$i >>$G/lhostB/work/log; head -c 9000 /dev/urandom >$G/lhostB/work/f\$i;
		cat $G/lhostB/d1/f* >/dev/null || exit 1; done; echo \$i >$G/worked" &
	worker=$!
	on_host hostA "$LETHEFS" rotate "$G/lhostA"
	# One walker, named alike by both hosts; the other shows its progress.
	# (Up to 300 rounds, a minute or more: since a rotation syncs each
	# file's blocks before it goes on, every file costs flushes on both
	# bricks, and the first progress the other host can show comes later
	# under load.)
	seen=
	for _ in $(seq 300); do
		sa=$(on_host hostA "$LETHEFS" status --json "$G/lhostA")
		sb=$(on_host hostB "$LETHEFS" status --json "$G/lhostB")
		wa=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rotation_walker"])' "$sa")
		wb=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rotation_walker"])' "$sb")
		other=$([ "$wa" = hostA ] && echo "$sb" || echo "$sa")
		# The walker's count grows as its pass converts: wait for the
		# other host to show some of it.
		if [[ "$sa$sb" == *'"rotation_state":"running"'*'"rotation_state":"running"'* ]] &&
			[ -n "$wa" ] && [ "$wa" = "$wb" ] &&
			[[ "$other" == *'"rotation_files_total":'[1-9]* ]]; then
			seen=$wa
			break
		fi
		sleep 0.1
	done
	echo "walker: $seen"
	# (When none was seen: what each host said last, for the next look.)
	[ -n "$seen" ] || echo "host A: $sa" "host B: $sb"
	[ -n "$seen" ]
	[[ "$other" == *'"rotation_files_total":'[1-9]* ]]
	for _ in $(seq 300); do
		[[ "$(on_host hostA "$LETHEFS" status --json "$G/lhostA")" == *'"rotation_state":"idle"'* ]] && break
		sleep 0.2
	done
	touch "$G/stop"
	wait "$worker"
	[ "$(cat "$G/worked")" -gt 3 ]
	# Both hosts have retired epoch 1 (hostB takes the keyring change
	# within a second or two).
	for _ in $(seq 50); do
		st=$(on_host hostB "$LETHEFS" status --json "$G/lhostB")
		[[ "$st" == *'"rotation_old_epochs":""'* ]] && break
		sleep 0.2
	done
	[[ "$st" == *'"rotation_epoch":2'* ]]
	[[ "$st" == *'"rotation_old_epochs":""'* ]]
	st=$(on_host hostA "$LETHEFS" status --json "$G/lhostA")
	[[ "$st" == *'"rotation_epoch":2,"rotation_old_epochs":""'* ]]
	# Nothing lost or changed, on either host.
	[ "$(sums_on hostA "$G/lhostA")" = "$before" ]
	[ "$(sums_on hostB "$G/lhostB")" = "$before" ]
	n=$(cat "$G/worked")
	on_host hostA test -s "$G/lhostA/work/f$n"
	[ "$(on_host hostA sh -c "wc -l <$G/lhostA/work/log")" -ge "$n" ]
	for h in hostA hostB; do
		[ "$(on_host $h sh -c "getfattr --only-values -n user.tag $G/l$h/d1/f2 2>/dev/null")" = \
			patient-4711 ]
	done
	[ "$(on_host hostB readlink "$G/lhostB/d2/link")" = ../d1/f1 ]
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
	run on_host hostA "$LETHEFS" fsck --passfile "$G/pass" "$G/mhostA/vault"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "shared: names made on one host right after the other's rotation are found there, and taken names stay taken" {
	# Outside a rotation a negative lookup does not re-read .lethefs.dir
	# (fs/ops_entry.c): hostB's cached metadata of a directory hostA's
	# rotation converted must still give way (the retired epoch reloads).
	mount_on hostA -o shared
	mount_on hostB -o shared
	on_host hostA mkdir "$G/lhostA/rot"
	on_host hostA sh -c "echo before >$G/lhostA/rot/before"
	[ "$(on_host hostB cat "$G/lhostB/rot/before")" = before ]
	run on_host hostB cat "$G/lhostB/rot/absent"
	[ "$status" -ne 0 ]
	e0=$(on_host hostA "$LETHEFS" status --json "$G/lhostA" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rotation_epoch"])')
	on_host hostA "$LETHEFS" rotate "$G/lhostA"
	for _ in $(seq 300); do
		st=$(on_host hostB "$LETHEFS" status --json "$G/lhostB")
		[[ "$st" == *'"rotation_epoch":'$((e0 + 1))',"rotation_old_epochs":""'* ]] &&
			[[ "$(on_host hostA "$LETHEFS" status --json "$G/lhostA")" == *'"rotation_old_epochs":""'* ]] && break
		sleep 0.2
	done
	[[ "$st" == *'"rotation_old_epochs":""'* ]]
	on_host hostA sh -c "echo after >$G/lhostA/rot/after; mkdir $G/lhostA/rot/dir"
	[ "$(on_host hostB cat "$G/lhostB/rot/after")" = after ]
	[ "$(on_host hostB cat "$G/lhostB/rot/before")" = before ]
	run on_host hostB mkdir "$G/lhostB/rot/dir"
	[ "$status" -ne 0 ]
	[[ "$output" == *"File exists"* ]]
	run on_host hostB sh -c "set -C; echo again >$G/lhostB/rot/after"
	[ "$status" -ne 0 ]
	on_host hostB sh -c "echo fromB >$G/lhostB/rot/fromB"
	[ "$(on_host hostA cat "$G/lhostA/rot/fromB")" = fromB ]
	[ "$(on_host hostA ls "$G/lhostA/rot" | tr '\n' ' ')" = "after before dir fromB " ]
	[ "$(on_host hostB ls "$G/lhostB/rot" | tr '\n' ' ')" = "after before dir fromB " ]
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
	run on_host hostA "$LETHEFS" fsck --passfile "$G/pass" "$G/mhostA/vault"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "shared staging: made on one host, used on both, quota shared, shredded by one and gone on the other" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	on_host hostA "$LETHEFS" stage create --ttl 1h --quota 1M "$G/lhostA/mig" >/dev/null
	# hostB meets the marker of an id it does not know yet: it merges the
	# index at once.
	on_host hostB sh -c "head -c 300000 /dev/urandom >$G/lhostB/mig/b.bin"
	on_host hostA sh -c "head -c 300000 /dev/urandom >$G/lhostA/mig/a.bin"
	[ "$(on_host hostB sh -c "sha256sum <$G/lhostB/mig/a.bin")" = \
		"$(on_host hostA sh -c "sha256sum <$G/lhostA/mig/a.bin")" ]
	[ "$(on_host hostA stat -c %s "$G/lhostA/mig/b.bin")" = 300000 ]
	# 600 KB used between the two hosts: 500 KB more exceeds the 1M quota
	# on either (the hosts' shares meet in the index within a second).
	sleep 3
	run on_host hostB sh -c "head -c 500000 /dev/zero >$G/lhostB/mig/c.bin"
	[ "$status" -ne 0 ]
	[[ "$output" == *"quota"* ]]
	run on_host hostA "$LETHEFS" stage list --json "$G/lhostA"
	echo "$output"
	used=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[0]["used"])' "$output")
	[ "$used" -ge 600000 ]
	# hostB holds a file open; hostA shreds the directory.
	on_host hostB sh -c "exec 7<$G/lhostB/mig/b.bin; sleep 6; cat <&7 >/dev/null" \
		>"$G/held.out" 2>&1 &
	holder=$!
	sleep 1
	on_host hostA "$LETHEFS" stage shred "$G/lhostA/mig" >/dev/null
	! on_host hostA test -e "$G/lhostA/mig" || false
	for _ in $(seq 30); do
		on_host hostB test -e "$G/lhostB/mig" || break
		sleep 0.1
	done
	! on_host hostB test -e "$G/lhostB/mig" || false
	run on_host hostB ls "$G/lhostB/mig"
	[ "$status" -ne 0 ]
	wait "$holder" || true
	grep -q "Input/output error" "$G/held.out"
	# Nothing of it left in the vault (the tree goes in the background):
	# the index and the staging clock's mark only.
	for _ in $(seq 50); do
		[ -z "$(ls "$G/b1/vault/staging" | grep -v '^index$\|^clock$')" ] && break
		sleep 0.1
	done
	[ -z "$(ls "$G/b1/vault/staging" | grep -v '^index$\|^clock$')" ]
}

@test "shared staging: an expiry is shredded once, by the host holding the expiry role" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	on_host hostB "$LETHEFS" stage create --ttl 3s "$G/lhostB/short" >/dev/null
	on_host hostB sh -c "echo x >$G/lhostB/short/f"
	# hostA mounted first and holds the role: while it is frozen, hostB
	# leaves the expired directory alone.
	a=$(pgrep -f "lethefs mount .*$G/mhostA/vault")
	[ -n "$a" ]
	echo "$a" >"$G/stopped.pid"
	kill -STOP "$a"
	sleep 5
	on_host hostB test -e "$G/lhostB/short"
	kill -CONT "$a"
	rm -f "$G/stopped.pid"
	for _ in $(seq 50); do
		on_host hostB test -e "$G/lhostB/short" || break
		sleep 0.1
	done
	! on_host hostB test -e "$G/lhostB/short" || false
	! on_host hostA test -e "$G/lhostA/short" || false
	sleep 2
	run on_host hostA "$LETHEFS" audit show --json "$G/mhostA/vault"
	n=$(grep -c '"event":"stage-shred".*"reason":"expired"' <<<"$output" || true)
	echo "$n shred entries"
	[ "$n" -eq 1 ]
}

@test "shared staging: a manual shred asked of a host without the expiry role is its own, audited once with its caller" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	# hostA mounted first and holds the expiry role; hostB is asked.
	on_host hostA "$LETHEFS" stage create --ttl 1h "$G/lhostA/man" >/dev/null
	on_host hostB sh -c "echo y >$G/lhostB/man/f"
	id=$(on_host hostB getfattr --only-values -n user.lethefs.id "$G/lhostB/man")
	[[ "$id" =~ ^[0-9a-f]{8}$ ]]
	on_host hostB "$LETHEFS" stage shred "$G/lhostB/man" >/dev/null
	for _ in $(seq 50); do
		on_host hostA test -e "$G/lhostA/man" || break
		sleep 0.1
	done
	! on_host hostA test -e "$G/lhostA/man" || false
	# Past the grace the expiry host gives the asked host: still one entry.
	sleep 7
	run on_host hostA "$LETHEFS" audit show --json "$G/mhostA/vault"
	n=$(grep -c "\"event\":\"stage-shred\".*\"id\":\"$id\"" <<<"$output" || true)
	echo "$n shred entries for $id"
	[ "$n" -eq 1 ]
	grep "\"event\":\"stage-shred\".*\"id\":\"$id\"" <<<"$output" | grep -q '"trigger":"command"'
}

@test "shared: each host writes its own audit log; verify checks both, show merges them" {
	mount_on hostA -o shared
	mount_on hostB -o shared
	on_host hostB "$LETHEFS" lock "$G/lhostB"
	on_host hostB "$LETHEFS" unlock --passfile "$G/pass" "$G/lhostB"
	on_host hostA umount "$G/lhostA"
	on_host hostB umount "$G/lhostB"
	V=$G/mhostA/vault
	[ -f "$G/b1/vault/lethefs.audit.d/hostA" ]
	[ -f "$G/b2/vault/lethefs.audit.d/hostB" ]
	run on_host hostA "$LETHEFS" audit verify --passfile "$G/pass" "$V"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"host hostA: OK"* ]]
	[[ "$output" == *"host hostB: OK"* ]]
	run on_host hostB "$LETHEFS" audit show "$G/mhostB/vault"
	[[ "$output" == *" hostB#"*" lock success"* ]]
	[[ "$output" == *" hostA#"*" mount success"* ]]
	# hostB's log copied over hostA's: found, naming whose it is.
	D=$G/mhostA/vault/lethefs.audit.d
	on_host hostA sh -c "cp $D/hostA $G/saved-hostA && cp $D/hostB $D/hostA"
	run on_host hostA "$LETHEFS" audit verify --passfile "$G/pass" "$V"
	[ "$status" -eq 10 ]
	[[ "$output" == *"host hostA: FAILED: lethefs.audit.d/hostA is not host hostA's log but a copy of host hostB"* ]]
	on_host hostA cp "$G/saved-hostA" "$D/hostA"
	run on_host hostA "$LETHEFS" audit verify --passfile "$G/pass" "$V"
	[ "$status" -eq 0 ]
}
