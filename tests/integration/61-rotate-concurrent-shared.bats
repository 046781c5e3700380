#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Operations racing a rotation on a shared mount (docs/ROTATION.md,
# "Operations during a rotation"; docs/SHARED.md): the workloads of
# 60-rotate-concurrent.bats through `-o shared` on a local directory.

load helpers
load rotconc

setup() {
	setup_vault
	attackers=()
	holders=
	walker=
	mover=
}
teardown() {
	rotconc_teardown
	teardown_vault
}

@test "shared: names, contents, xattrs, held descriptors, mappings and walkers through two rotations: as on ext4" {
	mount_logged -o shared
	rotconc_bulk
	rotconc_start
	"$LETHEFS" rotate --wait "$MNT"
	"$LETHEFS" rotate --wait "$MNT"
	run "$LETHEFS" status --json "$MNT"
	echo "$output"
	[[ "$output" == *'"rotation_errors":0'* ]]
	rotconc_stop_and_check
	rotconc_clean_log
	unmount_vault
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
}

@test "shared: listings beside creates report no name as forged" {
	# A READDIRPLUS batch summed a flag that only decrypted names set: the
	# first batch of each listing read whatever malloc gave, and a shared
	# mount logged "skipping N entries ... whose names do not
	# authenticate" for names that were all fine (nothing was skipped).
	mount_logged -o shared
	for d in 1 2 3 4 5 6; do
		mkdir "$MNT/$d"
		(cd "$MNT/$d" && seq -f 'patient-%04g.hl7' 1 300 | xargs touch)
		(cd "$MNT/$d" && seq -f 'later-%04g.hl7' 1 600 | xargs touch) &
		for _ in 1 2 3; do ls -l "$MNT/$d" >/dev/null; done
		wait $!
		[ "$(ls "$MNT/$d" | wc -l)" -eq 900 ]
	done
	rotconc_clean_log
}
